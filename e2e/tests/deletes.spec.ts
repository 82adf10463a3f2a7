// Deletes as a page written for the original AtomKV sees them: the served
// script's `subscribe` yields the key going to [null, -1], in order with the
// writes, and the key starts again at revision 0.

import { expect, test } from '@playwright/test'
import { servePage, startStandalone } from './helpers.js'

const page = (server: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>deletes</title>
<script src="${server}/"></script>
<script>
window.seen = []
;(async () => {
  for await (let [key, value, rev] of AtomKV.subscribe('/todo/')) window.seen.push([key, value, rev])
})()
</script>
</head><body>a page of the original</body></html>`

test('a page of the original sees a delete as the key going to [null, -1]', async ({ browser }) => {
  const server = await startStandalone()
  const site = await servePage(page(server.url))
  try {
    const context = await browser.newContext()
    const tab = await context.newPage()
    await tab.goto(site.url)
    await tab.waitForFunction(() => (window as any).AtomKV.status === 'open', undefined, { timeout: 10_000 })
    const call = (method: string, key: string, body?: unknown) =>
      fetch(server.url + key, { method, body: body === undefined ? undefined : JSON.stringify(body) })
    await call('POST', '/todo/1', { title: 'milk' })
    expect((await call('DELETE', '/todo/1')).status).toBe(204)
    await call('POST', '/todo/1', { title: 'bread' })
    await tab.waitForFunction(() => (window as any).seen.length === 3, undefined, { timeout: 10_000 })
    expect(await tab.evaluate(() => (window as any).seen)).toEqual([
      ['/todo/1', { title: 'milk' }, 0],
      ['/todo/1', null, -1],
      ['/todo/1', { title: 'bread' }, 0],
    ])
    // The page's own delete, through the served script.
    expect(await tab.evaluate(() => (window as any).AtomKV.delete('/todo/1'))).toBe(true)
    await tab.waitForFunction(() => (window as any).seen.length === 4, undefined, { timeout: 10_000 })
    expect(await tab.evaluate(() => (window as any).seen[3])).toEqual(['/todo/1', null, -1])
    await context.close()
  } finally {
    await site.close()
    await server.stop()
  }
})
