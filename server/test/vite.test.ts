/// <reference path="../client.d.ts" />
// The Vite plugin through a real Vite dev server (and `vite preview`) on a free
// port: HTTP and SSE through Vite's middleware stack, the virtual module,
// seed, persist across two servers, and the service closing with the server.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, preview, type PreviewServer, type ViteDevServer } from 'vite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { atomkv, type AtomKVPluginOptions } from '../src/vite.js'
import { waitFor } from '@atomkv/test-support'

let dir: string
const servers: (ViteDevServer | PreviewServer)[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'atomkv-vite-'))
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
  rmSync(dir, { recursive: true, force: true })
})

const common = (options: AtomKVPluginOptions) => ({
  configFile: false as const,
  root: dir,
  logLevel: 'silent' as const,
  plugins: [atomkv({ logger: false, ...options })],
})

/** A dev server on 127.0.0.1 and a free port; resolves to it and its origin. */
async function dev(options: AtomKVPluginOptions = {}): Promise<{ server: ViteDevServer; origin: string }> {
  const server = await createServer({
    ...common(options),
    server: { port: 0, host: '127.0.0.1', strictPort: true, ws: false, watch: null },
    optimizeDeps: { noDiscovery: true, include: [] },
  })
  servers.push(server)
  await server.listen()
  return { server, origin: server.resolvedUrls!.local[0]!.replace(/\/$/, '') }
}

/** Whether `file` exists and holds `text` (it may not be written yet). */
function fileHolds(file: string, text: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(text)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

const post = (url: string, value: unknown) => fetch(url, { method: 'POST', body: JSON.stringify(value) })
const stats = async (base: string) =>
  (await (await fetch(`${base}/.stats`)).json()) as { keys: number; streams: number; subscriptions: number }

/** Reads an event stream until `text` has arrived; returns everything read so far. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, seen: { text: string }, text: string) {
  const decoder = new TextDecoder()
  while (!seen.text.includes(text)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(seen.text)}`)
    seen.text += decoder.decode(value, { stream: true })
  }
  return seen.text
}

describe('the Vite plugin', () => {
  it('serves the protocol under /__atomkv, with compare-and-swap', async () => {
    const { origin } = await dev()
    const base = `${origin}/__atomkv`
    const set = await post(`${base}/counter`, 1)
    expect(set.status).toBe(200)
    expect(set.headers.get('x-revision')).toBe('0')
    const got = await fetch(`${base}/counter`)
    expect(await got.json()).toBe(1)
    expect(got.headers.get('x-revision')).toBe('0')
    const stale = await fetch(`${base}/counter`, { method: 'PUT', body: '5', headers: { 'X-Revision': '0' } })
    expect(stale.status).toBe(409)
    const swapped = await fetch(`${base}/counter`, { method: 'PUT', body: '5', headers: { 'X-Revision': '1' } })
    expect(swapped.status).toBe(200)
    expect((await fetch(`${base}/bad..key`)).status).toBe(400)
    // The client's browser build, at the base itself.
    const script = await fetch(base)
    expect(script.headers.get('content-type')).toMatch(/javascript/)
    // Outside the base, Vite answers as usual.
    expect((await fetch(`${origin}/counter`)).headers.get('x-revision')).toBeNull()
  })

  it("answers only its own app's origins: another site can neither write nor read the dev store", async () => {
    const { origin } = await dev({ seed: { '/secret': 'kept' } })
    const base = `${origin}/__atomkv`
    const foreign = 'http://127.0.0.1:1' // another port: another origin (Vite's own CORS would let it through)
    // A simple POST (text/plain) skips the preflight: it must be refused, not only left unreadable.
    const posted = await fetch(`${base}/secret`, { method: 'POST', body: '"forced"', headers: { origin: foreign, 'content-type': 'text/plain' } })
    expect(posted.status).toBe(403)
    expect(posted.headers.get('access-control-allow-origin')).toBeNull()
    const read = await fetch(`${base}/secret`, { headers: { origin: foreign } })
    expect(read.status).toBe(403)
    expect(read.headers.get('access-control-allow-origin')).toBeNull()
    const stream = await fetch(`${base}/.stream?sub=/secret&initial=1`, { headers: { origin: 'https://evil.example' } })
    expect(stream.status).toBe(403)
    expect(await stream.text()).toMatch(/origin "https:\/\/evil.example" is not allowed/)

    // The app's own page: its Origin names the host it asked.
    const own = await fetch(`${base}/secret`, { headers: { origin } })
    expect(own.status).toBe(200)
    expect(own.headers.get('access-control-allow-origin')).toBe(origin)
    expect(await own.json()).toBe('kept')
    expect((await post(`${base}/mine`, 1)).status).toBe(200) // no Origin (not a browser): served
  })

  it('widens the origins with corsOrigins: a list, or "*" for any', async () => {
    const listed = await dev({ corsOrigins: ['http://localhost:3000'] })
    const base = `${listed.origin}/__atomkv`
    expect((await fetch(`${base}/a`, { method: 'POST', body: '1', headers: { origin: 'http://localhost:3000' } })).status).toBe(200)
    expect((await fetch(`${base}/a`, { headers: { origin: listed.origin } })).status).toBe(200)
    expect((await fetch(`${base}/a`, { headers: { origin: 'http://localhost:3001' } })).status).toBe(403)

    const open = await dev({ corsOrigins: '*' })
    const any = await fetch(`${open.origin}/__atomkv/a`, { method: 'POST', body: '1', headers: { origin: 'https://anywhere.example' } })
    expect(any.status).toBe(200)
    expect(any.headers.get('access-control-allow-origin')).toBe('*')
    expect(() => atomkv({ corsOrigins: ['localhost:3000'] })).toThrow(/corsOrigins: "localhost:3000"/)
  })

  it("logs its URL and the inspector's once the server listens", async () => {
    const started = async (options: AtomKVPluginOptions) => {
      const infos: string[] = []
      const logger = {
        info: (message: string) => void infos.push(message),
        warn() {},
        warnOnce() {},
        error() {},
        clearScreen() {},
        hasErrorLogged: () => false,
        hasWarned: false,
      }
      const server = await createServer({
        ...common(options),
        customLogger: logger,
        server: { port: 0, host: '127.0.0.1', ws: false, watch: null },
      })
      servers.push(server)
      await server.listen()
      const origin = server.resolvedUrls!.local[0]!.replace(/\/$/, '')
      return { origin, lines: infos.filter((line) => line.includes('AtomKV')) }
    }
    const on = await started({})
    expect(on.lines).toEqual([`  ➜  AtomKV:  ${on.origin}/__atomkv`, `  ➜  AtomKV inspector:  ${on.origin}/__atomkv/.inspect`])
    const off = await started({ inspect: false })
    expect(off.lines).toEqual([`  ➜  AtomKV:  ${off.origin}/__atomkv`])
  })

  it('serves the inspector under its base by default, and not with inspect: false', async () => {
    const { origin } = await dev()
    const page = await fetch(`${origin}/__atomkv/.inspect`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    // Its relative URLs land on the service below the base: the client's script and its own.
    const html = await page.text()
    for (const src of html.matchAll(/<script src="([^"]*)"/g)) {
      const script = await fetch(new URL(src[1]!, `${origin}/__atomkv/.inspect`))
      expect(script.status, src[1]).toBe(200)
      expect(script.headers.get('content-type'), src[1]).toMatch(/javascript/)
    }
    const off = await dev({ inspect: false })
    const refused = await fetch(`${off.origin}/__atomkv/.inspect`)
    expect(refused.status).toBe(404)
    expect(await refused.text()).toMatch(/the inspector is off/)
  })

  it('takes another base path', async () => {
    const { origin } = await dev({ base: '/api/kv/' })
    expect((await post(`${origin}/api/kv/a`, 'x')).status).toBe(200)
    expect(await (await fetch(`${origin}/api/kv/a`)).json()).toBe('x')
  })

  it('streams events through Vite unbuffered, and frees a subscription when its client goes away', async () => {
    const { origin } = await dev()
    const base = `${origin}/__atomkv`
    const abort = new AbortController()
    const response = await fetch(`${base}/room/`, { headers: { Accept: 'text/event-stream' }, signal: abort.signal })
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('content-encoding')).toBeNull()
    const reader = response.body!.getReader()
    const seen = { text: '' }
    // The opening comment arrives before any event: nothing holds the stream back.
    await readUntil(reader, seen, ':ok')
    await post(`${base}/room/a`, { n: 1 })
    await readUntil(reader, seen, 'id:/room/a:0\ndata:{"n":1}\n\n')
    await post(`${base}/room/a`, { n: 2 })
    await readUntil(reader, seen, 'id:/room/a:1\ndata:{"n":2}\n\n')
    expect((await stats(base)).streams).toBe(1)

    abort.abort()
    await waitFor(async () => (await stats(base)).streams === 0, 'the stream to be freed')
    expect((await stats(base)).subscriptions).toBe(0)
  })

  it('ends its streams and closes when the dev server closes', async () => {
    const { server, origin } = await dev()
    const response = await fetch(`${origin}/__atomkv/k`, { headers: { Accept: 'text/event-stream' } })
    const reader = response.body!.getReader()
    await readUntil(reader, { text: '' }, ':ok')
    await server.close()
    // The stream ends (done or a reset connection), rather than hanging.
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return 'ended'
      })().catch(() => 'ended'),
    ).resolves.toBe('ended')
  })

  it('gives the app its URL and a ready client through virtual:atomkv', async () => {
    const { server, origin } = await dev()
    // What the browser gets: the module, with the base baked in.
    const code = await (await fetch(`${origin}/@id/__x00__virtual:atomkv`)).text()
    expect(code).toContain('"/__atomkv"')
    expect(code).toMatch(/createClient/)
    // Run it (in Node, without `location`, it falls back to the server's origin) and use its client.
    const module = (await server.ssrLoadModule('virtual:atomkv')) as typeof import('virtual:atomkv')
    expect(module.url).toBe(`${origin}/__atomkv`)
    expect(await module.client.set('/from/module', 42)).toBe(0)
    expect(await (await fetch(`${origin}/__atomkv/from/module`)).json()).toBe(42)
    module.client.close()
  })

  it("passes the plugin's client options to the virtual:atomkv client", async () => {
    const { server, origin } = await dev({ client: { shareAcrossTabs: true, maxQueue: 2 } })
    const code = await (await fetch(`${origin}/@id/__x00__virtual:atomkv`)).text()
    expect(code).toContain('"shareAcrossTabs":true')
    const { client } = (await server.ssrLoadModule('virtual:atomkv')) as typeof import('virtual:atomkv')
    // maxQueue 2: a reader that takes nothing gets two writes, then the overflow error.
    const subscription = client.subscribe('/queued')
    await subscription.ready
    const revisions: number[] = []
    client.watch('/queued', (event) => event.type === 'value' && revisions.push(event.revision))
    for (let i = 0; i < 3; i++) await client.set('/queued', i)
    // The watcher is on the same stream: once it has the third write, so has the iterator.
    await waitFor(() => revisions.includes(2), 'the third write at the client')
    const read: unknown[] = []
    await expect(
      (async () => {
        for await (const [, value] of subscription) read.push(value)
      })(),
    ).rejects.toMatchObject({ code: 'overflow' })
    expect(read).toEqual([0, 1])
    client.close()
  })

  it('seeds values from an object or a JSON file', async () => {
    const { origin } = await dev({ seed: { '/greeting': 'hello', '/list': [1, 2] } })
    expect(await (await fetch(`${origin}/__atomkv/greeting`)).json()).toBe('hello')
    expect(await (await fetch(`${origin}/__atomkv/list`)).json()).toEqual([1, 2])

    const file = join(dir, 'seed.json')
    writeFileSync(file, JSON.stringify({ '/fromfile': { ok: true } }))
    // A relative path is read from Vite's root.
    const second = await dev({ seed: 'seed.json' })
    expect(await (await fetch(`${second.origin}/__atomkv/fromfile`)).json()).toEqual({ ok: true })
  })

  it('refuses a seed with an invalid key, naming it', async () => {
    await expect(dev({ seed: { 'no-slash': 1 } })).rejects.toThrow(/no-slash/)
  })

  it('persists values with their revisions across two dev servers, each on disk before it is answered', async () => {
    const data = join(dir, 'data')
    const first = await dev({ persist: data, seed: { '/seeded': 'seed' } })
    const base1 = `${first.origin}/__atomkv`
    for (const n of [1, 2, 3]) await post(`${base1}/counter`, n)
    await post(`${base1}/seeded`, 'changed')
    expect(fileHolds(join(data, 'log.1'), '"changed"')).toBe(true) // already, without waiting
    await post(`${base1}/last`, 'written before close')
    await post(`${base1}/deleted`, 'gone before close')
    await fetch(`${base1}/deleted`, { method: 'DELETE' })
    await first.server.close()

    const second = await dev({ persist: 'data', seed: { '/seeded': 'seed' } })
    const base2 = `${second.origin}/__atomkv`
    const got = await fetch(`${base2}/counter`)
    expect(await got.json()).toBe(3)
    expect(got.headers.get('x-revision')).toBe('2')
    // A compare-and-swap written for the old revision is still judged right.
    expect((await fetch(`${base2}/counter`, { method: 'PUT', body: '9', headers: { 'X-Revision': '2' } })).status).toBe(409)
    expect((await fetch(`${base2}/counter`, { method: 'PUT', body: '9', headers: { 'X-Revision': '3' } })).status).toBe(200)
    // The seed does not overwrite a restored key.
    expect(await (await fetch(`${base2}/seeded`)).json()).toBe('changed')
    expect(await (await fetch(`${base2}/last`)).json()).toBe('written before close')
    expect((await fetch(`${base2}/deleted`)).status).toBe(404) // a delete is kept too
  })

  it('keeps its data in .atomkv under the root with persist: true', async () => {
    const { origin, server } = await dev({ persist: true })
    await post(`${origin}/__atomkv/k`, 'v')
    await server.close()
    expect(readFileSync(join(dir, '.atomkv', 'snapshot'), 'utf8')).toContain('"v"')
  })

  it('refuses writes with 503 once its directory cannot be written, saying why, and logs it once', async () => {
    const errors: string[] = []
    const logger = { warn() {}, error: (message: string) => void errors.push(message) }
    const data = join(dir, 'gone')
    // Every group of writes starts a new log file: one in a removed directory cannot be made.
    const { origin } = await dev({ persist: data, logger, compactAfterBytes: 1 })
    await post(`${origin}/__atomkv/before`, 1)
    rmSync(data, { recursive: true })
    await post(`${origin}/__atomkv/k`, 1) // its group is written to the open file; the next log cannot start
    await waitFor(() => errors.length > 0, 'the logged error')
    const refused = await fetch(`${origin}/__atomkv/k`, { method: 'POST', body: '2' })
    expect(refused.status).toBe(503)
    expect(await refused.text()).toMatch(/cannot write the data directory .*gone/)
    expect((await fetch(`${origin}/__atomkv/before`)).status).toBe(200) // reads go on
    // Once, however many writes it refuses (a compaction cut short may add its own line).
    expect(errors.filter((e) => e.includes('refusing writes'))).toHaveLength(1)
    await fetch(`${origin}/__atomkv/k`, { method: 'POST', body: '3' })
    expect(errors.filter((e) => e.includes('refusing writes'))).toHaveLength(1)
  })

  it('stores a deeply nested value compactly, at its own size', async () => {
    const data = join(dir, 'deep')
    const { origin, server } = await dev({ persist: data })
    const deep = JSON.stringify(JSON.parse('['.repeat(500) + ']'.repeat(500)))
    expect((await fetch(`${origin}/__atomkv/deep`, { method: 'POST', body: deep })).status).toBe(200)
    await server.close()
    // Once as the state, once in the history kept for resuming streams: no indentation multiplied.
    expect(readFileSync(join(data, 'snapshot'), 'utf8').length).toBeLessThan(2 * deep.length + 400)
    const again = await dev({ persist: data })
    expect(await (await fetch(`${again.origin}/__atomkv/deep`)).text()).toBe(deep)
  })

  it('moves a persist file of the older format into a directory, revisions kept', async () => {
    const file = join(dir, 'old.json')
    writeFileSync(file, JSON.stringify({ atomkv: 1, entries: [{ key: '/counter', revision: 4, value: 7 }] }))
    const { origin } = await dev({ persist: file })
    const got = await fetch(`${origin}/__atomkv/counter`)
    expect(await got.json()).toBe(7)
    expect(got.headers.get('x-revision')).toBe('4')
    expect(readFileSync(`${file}.old`, 'utf8')).toContain('"/counter"') // the old file, kept aside
  })

  it('refuses a persist file that is not a snapshot, and leaves it alone', async () => {
    const file = join(dir, 'data.json')
    writeFileSync(file, '{"counter": 1}')
    await expect(dev({ persist: file })).rejects.toThrow(/not an AtomKV snapshot/)
    expect(readFileSync(file, 'utf8')).toBe('{"counter": 1}')
  })

  it('serves under vite preview too', async () => {
    const server = await preview({
      ...common({}),
      build: { outDir: dir },
      preview: { port: 0, host: '127.0.0.1', strictPort: true },
    })
    servers.push(server)
    const origin = server.resolvedUrls!.local[0]!.replace(/\/$/, '')
    expect((await post(`${origin}/__atomkv/p`, [1])).status).toBe(200)
    const response = await fetch(`${origin}/__atomkv/p?initial=1`, {
      headers: { Accept: 'text/event-stream', 'Accept-Encoding': 'gzip' },
    })
    // Preview compresses what it serves, but never an event stream.
    expect(response.headers.get('content-encoding')).toBeNull()
    await readUntil(response.body!.getReader(), { text: '' }, 'id:/p:0\ndata:[1]\n\n')
    await response.body!.cancel().catch(() => {})
  })
})
