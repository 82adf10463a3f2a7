// A real server per test, clients that reconnect fast, and a condition poller.

import { serve, type AtomKVServer, type ServeOptions } from '@atomkv/server'
import { AtomKVError, createClient, type AtomKVClient, type ClientOptions } from '@atomkv/client'

/** Polls `cond` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
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

export interface Harness {
  server: AtomKVServer
  /** Makes a client of the current server; closed by `cleanup()`. */
  client(options?: Partial<ClientOptions>): AtomKVClient
  /** Closes the server and starts a new one on the same port. */
  restart(): Promise<AtomKVServer>
  /** Stops the server (the port stays known for `restart`). */
  stop(): Promise<void>
  cleanup(): Promise<void>
}

export async function startServer(options: ServeOptions = {}): Promise<Harness> {
  const settings = { hostname: '127.0.0.1', logger: false as const, ...options }
  const clients: AtomKVClient[] = []
  let server = await serve({ port: 0, ...settings })
  let stopped = false
  const harness: Harness = {
    get server() {
      return server
    },
    client(clientOptions = {}) {
      const client = createClient({
        url: server.url,
        retry: { minDelayMs: 10, maxDelayMs: 50 },
        ...clientOptions,
      })
      clients.push(client)
      return client
    },
    async restart() {
      if (!stopped) await server.close()
      server = await serve({ ...settings, port: server.port })
      stopped = false
      return server
    },
    async stop() {
      stopped = true
      await server.close()
    },
    async cleanup() {
      for (const client of clients.splice(0)) client.close()
      if (!stopped) await server.close()
    },
  }
  return harness
}
