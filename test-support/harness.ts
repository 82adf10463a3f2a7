// A real server per test (over Node or a web fetch handler), clients that
// reconnect fast, and waiting for a condition instead of sleeping. What a test
// starts here is closed after it: this module registers the Vitest hooks
// (Vitest is the workspace root's, which runs every package's tests).

import { AtomKVError, createClient, type AtomKVClient, type ClientOptions } from '@atomkv/client'
import { createAtomKV, serve, type AtomKV, type AtomKVServer, type ServeOptions } from '@atomkv/server'
import { serve as srvx } from 'srvx'
import { afterAll, afterEach } from 'vitest'

const servers: TestServer[] = []
const clients: AtomKVClient[] = []
const closing: Promise<void>[] = []

afterEach(() => {
  defaultTransport = 'node'
  for (const client of clients.splice(0)) client.close()
  // A server's close() may wait up to its 1 s grace for sockets of aborted
  // streams; let that run alongside the next tests instead of before them.
  for (const server of servers.splice(0)) closing.push(server.close())
})
afterAll(async () => {
  await Promise.all(closing.splice(0))
})

/**
 * Resolves once `condition` holds (polled); rejects after `timeoutMs` with `what` in the message.
 * The deadline is on the monotonic clock, so a test that moves `Date` still times out.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * How a test server answers: `node` is the standalone server (streams and
 * answers written straight to Node's response); `web` serves the same app
 * through its fetch handler with plain web Requests, the path other runtimes
 * and HTTP/2 take.
 */
export type Transport = 'node' | 'web'
export const TRANSPORTS: readonly Transport[] = ['node', 'web']

let defaultTransport: Transport = 'node'

/** Sets the transport of the servers a test starts: `describe.each(TRANSPORTS)` runs a suite over both. */
export function useTransport(transport: Transport): void {
  defaultTransport = transport
}

export interface TestServerOptions extends ServeOptions {
  /** Defaults to the one `useTransport` set for this test, else `node`. */
  transport?: Transport
}

/** A test's server: one port, on which `restart()` starts a new service. */
export interface TestServer extends AtomKVServer {
  /** The service running now: another one after `restart()`. */
  readonly atomkv: AtomKV
  /** Ends the streams and stops listening; calling it again waits for the same close. `restart()` may follow. */
  close(): Promise<void>
  /** Closes the server if it runs, then starts a new, empty one with the same options on the same port. */
  restart(): Promise<void>
}

/** A server on 127.0.0.1 and a free port, closed after the test. */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { transport = defaultTransport, ...rest } = options
  const settings: ServeOptions = { port: 0, hostname: '127.0.0.1', logger: false, ...rest }
  const launch = transport === 'node' ? serve : serveWeb
  let current = await launch(settings)
  let closed: Promise<void> | undefined
  const server: TestServer = {
    url: current.url,
    port: current.port,
    get atomkv() {
      return current.atomkv
    },
    close() {
      closed ??= current.close()
      return closed
    },
    async restart() {
      await server.close()
      current = await launch({ ...settings, port: server.port })
      closed = undefined
    },
  }
  servers.push(server)
  return server
}

/** The app behind its fetch handler: each request is copied into a plain Request, which carries no Node runtime. */
async function serveWeb(options: ServeOptions): Promise<AtomKVServer> {
  const { port: wanted, hostname = '127.0.0.1', ...rest } = options
  const atomkv = createAtomKV(rest)
  const server = srvx({
    port: wanted ?? 0,
    hostname,
    silent: true,
    gracefulShutdown: false,
    fetch: (request) => {
      const body = request.method === 'GET' || request.method === 'HEAD' ? null : request.body
      const init = { method: request.method, headers: request.headers, body, signal: request.signal, duplex: 'half' }
      return atomkv.fetch(new Request(request.url, init as RequestInit))
    },
  })
  await server.ready()
  const port = Number(new URL(server.url!).port)
  return {
    url: `http://${hostname}:${port}`,
    port,
    atomkv,
    async close() {
      await atomkv.close()
      await server.close(true)
    },
  }
}

/** A client of `url`, closed after the test; fast retries so reconnection tests stay short. */
export function startClient(url: string, options: Partial<ClientOptions> = {}): AtomKVClient {
  const client = createClient({ url, retry: { minDelayMs: 20, maxDelayMs: 200 }, ...options })
  clients.push(client)
  return client
}

/**
 * Runs a request to a server just restarted on the same port: Node's fetch may
 * first hand out a pooled connection the old server closed, which fails before
 * the request is sent. Retried on exactly that failure.
 */
export async function afterRestart<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request()
    } catch (error) {
      if (!(error instanceof AtomKVError && error.code === 'network') || attempt >= 5) throw error
    }
  }
}
