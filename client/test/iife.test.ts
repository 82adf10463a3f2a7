// The browser build, run as a page would run it: a classic script in a fresh
// global scope whose document.currentScript points at the server.

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ORIGINAL_FIBONACCI, startServer, waitFor } from '@atomkv/test-support'

let script: string
let outDir: string

beforeAll(async () => {
  // Built from the current sources, exactly as `pnpm build` does, into a scratch folder.
  outDir = await mkdtemp(join(tmpdir(), 'atomkv-iife-'))
  await build({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    root: fileURLToPath(new URL('..', import.meta.url)),
    logLevel: 'silent',
    build: { outDir, emptyOutDir: true },
  })
  script = await readFile(join(outDir, 'atomkv.iife.js'), 'utf8')
}, 60_000)

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true })
})

/** A global scope with what a browser offers the script, loaded from `src`. */
function page(src: string, fetchImpl: typeof fetch = fetch) {
  const context = vm.createContext({
    document: { currentScript: { src } },
    fetch: fetchImpl,
    Headers,
    Response,
    TextDecoder,
    TextEncoder,
    AbortController,
    URL,
    setTimeout,
    clearTimeout,
    queueMicrotask,
    console,
  })
  vm.runInContext(script, context, { filename: 'atomkv.iife.js' })
  return context as vm.Context & { AtomKV: any }
}

describe('the browser build', () => {
  it('defines a global AtomKV with a `var`, the original API and the rest of the client', () => {
    expect(script).toMatch(/^var AtomKV\s*=/)
    const { AtomKV } = page('http://127.0.0.1:1/')
    for (const name of ['get', 'set', 'update', 'subscribe', 'modify', 'watch', 'close', 'onStatus', 'createClient']) {
      expect(typeof AtomKV[name], name).toBe('function')
    }
    expect(AtomKV.status).toBe('closed')
    expect(new AtomKV.AtomKVError('x', { code: 'http' })).toBeInstanceOf(AtomKV.AtomKVError)
    expect(AtomKV.AtomKVConflictError.prototype).toBeInstanceOf(AtomKV.AtomKVError)
  })

  it('talks to the server it was loaded from, path included', async () => {
    for (const [src, expected] of [
      ['http://h:8000/', 'http://h:8000/k'],
      ['http://h/__atomkv/', 'http://h/__atomkv/k'],
      ['http://h/__atomkv/?v=2', 'http://h/__atomkv/k'],
    ]) {
      const urls: string[] = []
      const { AtomKV } = page(src!, async (input) => {
        urls.push(String(input))
        return new Response('', { status: 404 })
      })
      expect(await AtomKV.get('/k')).toEqual([null, -1])
      expect(urls).toEqual([expected])
    }
  })

  it("runs the original README's Fibonacci and monitor examples unchanged", async () => {
    const server = await startServer()
    const context = page(server.url + '/')
    const results = vm.runInContext(
      `${ORIGINAL_FIBONACCI}
      const seen = []
      async function monitor(session) {
          for await (let [key, value, rev] of AtomKV.subscribe(\`/\${session}/\`)) {
              seen.push([key, value, rev])
              if (seen.length === 2) break
          }
      }
      ({ init, increment, monitor, seen })
      `,
      context,
    )
    await results.init()
    await waitFor(async () => (await context.AtomKV.get('/fib'))[1] === 0, 'init to land')
    const pairs: number[][] = await Promise.all(Array.from({ length: 10 }, () => results.increment()))
    expect(pairs.map((p) => p[1]!).sort((x, y) => x - y)).toEqual([1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
    const [[a, b], revision] = await context.AtomKV.get('/fib')
    expect([[a, b], revision]).toEqual([[55, 89], 10])

    const monitoring = results.monitor('c0ffee')
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'the monitor to subscribe')
    await context.AtomKV.set('/c0ffee/x', 1)
    await context.AtomKV.set('/c0ffee/y/z', 2)
    await monitoring
    expect(JSON.parse(JSON.stringify(results.seen))).toEqual([['/c0ffee/x', 1, 0], ['/c0ffee/y/z', 2, 0]])
    await waitFor(() => server.atomkv.stats().subscriptions === 0, 'break to unsubscribe')
    context.AtomKV.close()
  })
})
