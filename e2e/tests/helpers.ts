// Servers the end-to-end tests start themselves: the standalone CLI on an
// ephemeral port, the demo's own dev server, and a tiny static server that
// gives a page another origin.

import { startProcess } from '@atomkv/test-support/process'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url))

/** The demo's dev server (started by Playwright's webServer) and its AtomKV mount. */
export const DEMO = `http://127.0.0.1:${process.env.E2E_PORT ?? 5199}`
export const DEMO_KV = `${DEMO}/__atomkv`

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

export interface Standalone {
  readonly port: number
  readonly url: string
  stop(): Promise<void>
}

/** `atomkv --addr 127.0.0.1:<port> ...args`, resolved once it logged that it listens. */
export async function startStandalone(port?: number, args: readonly string[] = []): Promise<Standalone> {
  const chosen = port ?? (await freePort())
  const { child } = await startProcess([cli, '--addr', `127.0.0.1:${chosen}`, ...args], /listening on/)
  return {
    port: chosen,
    url: `http://127.0.0.1:${chosen}`,
    async stop() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}

export interface Demo {
  /** The dev server's origin, such as http://127.0.0.1:41234. */
  readonly url: string
  /** The AtomKV service inside it. */
  readonly kv: string
  stop(): Promise<void>
}

const demoRoot = fileURLToPath(new URL('../../demo/', import.meta.url))

/**
 * The demo's dev server on a free port, with an AtomKV service of its own and
 * nothing persisted: for tests that count the service's open streams, which
 * the shared demo server's other tests would change under them. `slot` (the
 * worker's `parallelIndex`, never the same for two tests that run at once)
 * names its dependency cache, so two Vite servers never write one cache.
 */
export async function startDemo(slot: number): Promise<Demo> {
  // The workspace root's Vite (as Vitest is the root's), loaded only by the tests that need it.
  const { createServer } = await import('vite')
  process.env.ATOMKV_PERSIST = '' // read by the demo's vite.config.ts: as for the shared demo server
  const server = await createServer({
    root: demoRoot,
    configFile: `${demoRoot}vite.config.ts`,
    cacheDir: fileURLToPath(new URL(`../node_modules/.vite-demo-${slot}`, import.meta.url)),
    server: { host: '127.0.0.1', port: 0 },
    logLevel: 'error',
    clearScreen: false,
  })
  await server.listen()
  const { port } = server.httpServer!.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return { url, kv: `${url}/__atomkv`, stop: () => server.close() }
}

/** Serves `html` at `/` from another origin than the AtomKV server's. */
export async function servePage(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(html)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/** Force-sets `key` on the service at `base`. */
export async function setKey(base: string, key: string, value: unknown): Promise<void> {
  const response = await fetch(base + key, { method: 'POST', body: JSON.stringify(value) })
  if (!response.ok) throw new Error(`POST ${key}: ${response.status} ${await response.text()}`)
}

export async function getKey(base: string, key: string): Promise<unknown> {
  const response = await fetch(base + key)
  return response.status === 404 ? undefined : ((await response.json()) as unknown)
}

const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' }

/** Serves the files under `dir` as a static host would (a built app), on `port` or a free one. */
export async function serveDir(dir: string, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const { readFile } = await import('node:fs/promises')
  const { extname, join, normalize } = await import('node:path')
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path)
    readFile(file).then(
      (body) => {
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
        res.end(body)
      },
      () => {
        res.writeHead(404)
        res.end()
      },
    )
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const { port: chosen } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${chosen}/`,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
