// A real redis-server for tests: on 127.0.0.1, a free port and a temporary
// directory of its own, stopped (and its directory removed) after the file's
// tests. `.ci/run` installs Debian's redis-server when it is missing.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '@atomkv/test-support'
import { afterAll } from 'vitest'

export interface TestRedis {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** Kills it (SIGKILL: what it has not written is lost, as in a crash). */
  kill(): Promise<void>
  /** Starts it again on the same port and directory (after `kill`). */
  start(): Promise<void>
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>
}

const running: TestRedis[] = []
afterAll(async () => {
  for (const redis of running.splice(0)) await redis.stop()
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let answer = ''
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (data) => {
      answer += data.toString()
      if (answer.includes('\r\n')) {
        socket.destroy()
        resolve(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH')) // up, with or without a password
      }
    })
    socket.on('error', () => resolve(false))
  })
}

/**
 * Starts a redis-server. `persist`: an append-only file synced at every
 * write (`appendfsync always`), so a kill loses nothing it acknowledged;
 * otherwise nothing is kept on disk. `args`: more of redis-server's options.
 */
export async function startRedis({ persist = false, args: more = [] }: { persist?: boolean; args?: string[] } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-redis-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no']
  args.push(...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...more)
  let child: ChildProcess | undefined
  let stopped = false
  const exited = () => new Promise<void>((resolve) => (child?.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))

  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      let failure: string | undefined
      child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] })
      child.on('error', (error) => (failure = `cannot start redis-server (is it installed? .ci/run installs it): ${error.message}`))
      child.on('exit', (code, signal) => (failure ??= `redis-server on port ${port} exited (${code ?? signal})`))
      await waitFor(
        async () => {
          if (failure) throw new Error(failure)
          return ping(port)
        },
        `redis-server on port ${port}`,
        10_000,
      )
    },
    async kill() {
      child?.kill('SIGKILL')
      await exited()
    },
    async stop() {
      if (stopped) return
      stopped = true
      child?.kill('SIGTERM')
      await exited()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await redis.start()
  running.push(redis)
  return redis
}

export interface TcpProxy {
  readonly url: string
  /** Drops every connection, and refuses new ones until `restore()`: a network partition. */
  cut(): void
  restore(): void
  close(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 to `port`, to cut one server off from Redis while others keep it. */
export async function startProxy(port: number): Promise<TcpProxy> {
  const sockets = new Set<import('node:net').Socket>()
  let refusing = false
  const server = createServer((client) => {
    if (refusing) return void client.destroy()
    const upstream = createConnection({ port, host: '127.0.0.1' })
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from)
      from.pipe(to)
      from.on('error', () => to.destroy())
      from.on('close', () => {
        sockets.delete(from)
        to.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as { port: number }
  const proxy: TcpProxy = {
    url: `redis://127.0.0.1:${own}`,
    cut() {
      refusing = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      refusing = false
    },
    async close() {
      proxy.cut()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  proxies.push(proxy)
  return proxy
}

const proxies: TcpProxy[] = []
afterAll(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close()
})
