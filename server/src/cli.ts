#!/usr/bin/env node
// The `atomkv` command: parse the flags, serve, and shut down cleanly on SIGINT/SIGTERM.

import { INSPECT_PATH } from '@atomkv/client/protocol'
import { CliError, parseCli, USAGE } from './args.js'
import { DataDirError } from './file-store.js'
import { describeRedis, RedisStoreError } from './redis-store.js'
import { DEFAULT_EXPIRE_AFTER_MS } from './memory-store.js'
import { type AtomKVServer, serve } from './serve.js'

async function main(): Promise<void> {
  let command
  try {
    command = parseCli(process.argv.slice(2), process.env)
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    process.stderr.write(`atomkv: ${error.message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (command.command === 'help') {
    process.stdout.write(USAGE)
    return
  }

  const { hostname, port, options } = command
  // Signals are taken from the start: one that comes while the data directory
  // opens still closes it cleanly once the server is up.
  let server: AtomKVServer | undefined
  let stopping: NodeJS.Signals | undefined
  const close = (signal: NodeJS.Signals, running: AtomKVServer) => {
    console.log(`atomkv: ${signal}, closing`)
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('atomkv: could not close cleanly', error)
        process.exit(1)
      },
    )
  }
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = signal
    if (server) close(signal, server)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  try {
    server = await serve({ ...options, hostname, port })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const where = `${hostname ?? ''}:${port}`
    if (error instanceof DataDirError) {
      process.stderr.write(`atomkv: cannot open the data directory: ${error.message}\n`)
      process.exit(1)
    }
    if (error instanceof RedisStoreError) {
      process.stderr.write(`atomkv: ${error.message}\n`)
      process.exit(1)
    }
    const reason =
      code === 'EADDRINUSE'
        ? `${where} is already in use`
        : code === 'EACCES'
          ? `no permission to listen on ${where}`
          : String(error)
    process.stderr.write(`atomkv: cannot listen: ${reason}\n`)
    process.exit(1)
  }
  console.log(`atomkv listening on ${server.url}/`)
  console.log(`atomkv: ${storage(options)}`)
  if (options.inspect) console.log(`atomkv: the inspector is at ${server.url}${INSPECT_PATH}`)
  if (stopping) close(stopping, server)
}

/** Where the data lives and how long keys stay: said at start, so nobody is surprised by either. */
function storage(options: { data?: string; fsync?: string; redis?: string | { url: string }; expireAfterMs?: number }): string {
  const expiry = options.expireAfterMs ?? (options.data === undefined && options.redis === undefined ? DEFAULT_EXPIRE_AFTER_MS : 0)
  const kept = expiry === 0 ? 'keys are kept until deleted' : `a key not written for ${human(expiry)} is dropped`
  if (options.redis !== undefined) return `data in Redis at ${describeRedis(typeof options.redis === 'string' ? options.redis : options.redis.url)}, shared with every server on it; ${kept}`
  if (options.data === undefined) return `data in memory only (lost when the server stops; --data <dir> keeps it); ${kept}`
  return `data in ${options.data} (fsync ${options.fsync ?? 'always'}); ${kept}`
}

function human(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']]
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

main().catch((error: unknown) => {
  console.error('atomkv:', error)
  process.exit(1)
})
