#!/usr/bin/env node
// The `atomkv` command: parse the flags, serve, and shut down cleanly on SIGINT/SIGTERM.

import { CliError, parseCli, USAGE } from './args.js'
import { serve } from './serve.js'

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
  let server
  try {
    server = await serve({ ...options, hostname, port })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const where = `${hostname ?? ''}:${port}`
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

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    console.log(`atomkv: ${signal}, closing`)
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('atomkv: could not close cleanly', error)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((error: unknown) => {
  console.error('atomkv:', error)
  process.exit(1)
})
