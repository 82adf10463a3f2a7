// Sharing one stream across the tabs of a browser (`shareAcrossTabs`), with
// real Web Locks and BroadcastChannel: the leading tab closes in the middle of
// a burst of writes, and the other tabs carry on in order, each revision once
// (but the current state the reset restates), and reach the last write.

import { expect, test } from '@playwright/test'
import { servePage, setKey, startStandalone } from './helpers.js'

/** A page that follows `/burst` through a client shared across its browser's tabs. */
const sharingPage = (server: string) => `<!doctype html>
<script src="${server}/"></script>
<script>
  window.seen = []
  window.kv = AtomKV.createClient({ url: ${JSON.stringify(server)}, shareAcrossTabs: true })
  window.kv.watch('/burst', (event) => {
    if (event.type === 'value') window.seen.push(event.revision)
    if (event.type === 'reset') window.seen.push('reset')
  })
</script>`

test('three tabs share one stream; the leader closes mid-burst and the others miss nothing, in order, with one reset', async ({
  browser,
}) => {
  const server = await startStandalone()
  const site = await servePage(sharingPage(server.url))
  const streams = async () => ((await (await fetch(`${server.url}/.stats`)).json()) as { streams: number }).streams
  try {
    await setKey(server.url, '/burst', -1)
    const context = await browser.newContext()
    const leader = await context.newPage()
    await leader.goto(site.url)
    await leader.waitForFunction(() => (window as any).kv.status === 'open')
    const followers = [await context.newPage(), await context.newPage()]
    for (const page of followers) {
      await page.goto(site.url)
      await page.waitForFunction(() => (window as any).kv.status === 'open')
    }
    await expect.poll(streams, { timeout: 10_000 }).toBe(1)

    const total = 200
    for (let i = 0; i < total; i++) {
      await setKey(server.url, '/burst', i)
      if (i === 60) await leader.close()
    }
    for (const page of followers) {
      await page.waitForFunction((last) => (window as any).seen.includes(last), total, { timeout: 15_000 })
      const seen = (await page.evaluate(() => (window as any).seen)) as (number | 'reset')[]
      // The lead moved once: each tab was told so once, then given the current state.
      const reset = seen.indexOf('reset')
      expect(reset).toBeGreaterThan(-1)
      expect(seen.lastIndexOf('reset')).toBe(reset)
      const before = seen.slice(0, reset) as number[]
      const after = seen.slice(reset + 1) as number[]
      // On each side of the reset: in order, each once; then up to the last write.
      for (const part of [before, after]) expect(part).toEqual([...new Set(part)].sort((a, b) => a - b))
      expect(after.at(-1)).toBe(total)
      // A watcher is given every current value after a reset, so the first may
      // restate the last revision it saw before (when no write fell between the
      // leaders): never an older one, and nothing else twice.
      expect(after[0]).toBeGreaterThanOrEqual(before.at(-1) ?? 0)
    }
    // One of the followers leads now: still one stream for the browser.
    await expect.poll(streams, { timeout: 10_000 }).toBe(1)
    await context.close()
  } finally {
    await site.close()
    await server.stop()
  }
})
