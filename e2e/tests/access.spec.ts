// Access control in a real browser: the Vite plugin refusing a page on
// another origin while the app's own page works, and a standalone server with
// tokens used from a page on another origin through the served script.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { DEMO, DEMO_KV, getKey, servePage, setKey, startStandalone } from './helpers.js'

/** A page that tries to read and write the dev store from its own (foreign) origin and reports what happened. */
const foreignPage = (kv: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>another site</title></head><body>
<script>
const KV = ${JSON.stringify(kv)}
const attempt = async (fn) => { try { return await fn() } catch (error) { return 'blocked: ' + error.name } }
window.attack = async () => ({
  // A "simple" request: no preflight, the browser sends it whatever the answer's headers.
  simplePost: await attempt(async () => (await fetch(KV + '/e2e/secret', { method: 'POST', body: '"forced"', headers: { 'content-type': 'text/plain' } })).status),
  blindPost: await attempt(async () => (await fetch(KV + '/e2e/secret', { method: 'POST', body: '"blind"', mode: 'no-cors' })).type),
  read: await attempt(async () => await (await fetch(KV + '/e2e/secret')).text()),
  stream: await new Promise((resolve) => {
    const source = new EventSource(KV + '/.stream?sub=/e2e/secret&initial=1')
    const got = []
    source.onmessage = (event) => got.push(event.data)
    source.onerror = () => { source.close(); resolve(got.length ? 'read: ' + got.join() : 'blocked') }
  }),
})
</script></body></html>`

test('the Vite plugin refuses a page on another origin, and serves its own app', async ({ page }) => {
  await setKey(DEMO_KV, '/e2e/secret', 'kept')
  const site = await servePage(foreignPage(DEMO_KV))
  try {
    await page.goto(site.url)
    const results = await page.evaluate(() => (window as any).attack())
    expect(results).toEqual({ simplePost: 'blocked: TypeError', blindPost: 'opaque', read: 'blocked: TypeError', stream: 'blocked' })
    // Neither POST was executed.
    expect(await getKey(DEMO_KV, '/e2e/secret')).toBe('kept')

    // The app's own page reads, writes and streams the same store.
    await page.goto(`${DEMO}/`)
    const own = await page.evaluate(async (kv) => {
      const written = await fetch(kv + '/e2e/own', { method: 'POST', body: '"mine"', headers: { 'content-type': 'application/json' } })
      const read = await (await fetch(kv + '/e2e/secret')).json()
      const streamed = await new Promise((resolve) => {
        const source = new EventSource(kv + '/.stream?sub=/e2e/own&initial=1')
        source.onmessage = (event) => { source.close(); resolve(JSON.parse(event.data)) }
        source.onerror = () => { source.close(); resolve('error') }
      })
      return { written: written.status, read, streamed }
    }, DEMO_KV)
    expect(own).toEqual({ written: 200, read: 'kept', streamed: 'mine' })
  } finally {
    await site.close()
  }
})

/** A page on another origin using a guarded standalone server through its served script, the token on the script's URL. */
const tokenPage = (server: string, token: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>tokens</title>
<script src="${server}/?token=${token}"></script></head><body>
<script>
window.events = []
AtomKV.watch('/room/live', (event) => window.events.push(event.type === 'value' ? event.value : event.type), { initial: true })
window.refused = new Promise((resolve) => AtomKV.watch('/private/x', (event) => event.type === 'error' && resolve(event.error.code)))
window.source = new EventSource(${JSON.stringify(server)} + '/.stream?sub=/room/live&token=${token}')
window.sourced = []
window.source.onmessage = (event) => window.sourced.push(JSON.parse(event.data))
</script></body></html>`

test('a page on another origin uses a server with tokens: the script and EventSource with ?token=, AtomKV.token', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-e2e-auth-'))
  const file = join(dir, 'tokens.json')
  writeFileSync(file, JSON.stringify({ tokens: { 'page-token-1': { read: ['/room/'], write: ['/room/'] }, 'admin-token-1': { read: ['/'], write: ['/'] } } }))
  const server = await startStandalone(undefined, ['--auth', file])
  const site = await servePage(tokenPage(server.url, 'page-token-1'))
  try {
    await page.goto(site.url)
    await expect.poll(() => page.evaluate(() => (window as any).events)).toEqual(['ready'])
    expect(await page.evaluate(() => (window as any).refused)).toBe('forbidden')
    expect(await page.evaluate(() => (window as any).AtomKV.set('/room/live', 'from the page'))).toBe(0)
    await expect.poll(() => page.evaluate(() => (window as any).events)).toEqual(['ready', 'from the page'])
    await expect.poll(() => page.evaluate(() => (window as any).sourced)).toEqual(['from the page'])
    // Another token from now on: this one may write anywhere.
    const written = await page.evaluate(async () => {
      const AtomKV = (window as any).AtomKV
      const refused = await AtomKV.set('/private/x', 1).catch((error: { code: string }) => error.code)
      AtomKV.token = () => 'admin-token-1'
      return [refused, await AtomKV.set('/private/x', 2)]
    })
    expect(written).toEqual(['forbidden', 0])
    const admin = await fetch(`${server.url}/private/x`, { headers: { authorization: 'Bearer admin-token-1' } })
    expect(await admin.json()).toBe(2)
    expect((await fetch(`${server.url}/private/x`)).status).toBe(401)
    await expect(setKey(server.url, '/room/x', 1)).rejects.toThrow(/401/)
  } finally {
    await site.close()
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
