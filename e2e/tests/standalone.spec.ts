// Pages written for the original AtomKV, loading the client's browser build
// from a standalone `atomkv` server on another origin.

import { expect, test } from '@playwright/test'
import { ORIGINAL_FIBONACCI } from '@atomkv/test-support/original-examples'
import { getKey, servePage, setKey, startStandalone } from './helpers.js'

/**
 * The original README's two examples, verbatim, and a harness that runs them:
 * `monitor` logs what it sees to `window.seen`, `run(name, n)` increments n
 * times and reports each result under the session, for the other page's monitor.
 */
const originalPage = (server: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>original</title>
<script src="${server}/"></script>
<script>
${ORIGINAL_FIBONACCI}

async function monitor(session) {
    for await (let [key, value, rev] of AtomKV.subscribe(\`/\${session}/\`)) {
        console.log(key, value, rev)
    }
}
</script>
<script>
window.seen = []
const log = console.log
console.log = (...args) => { window.seen.push(args); log(...args) }
monitor('session')

window.run = async (name, n) => {
  await init()
  // init() does not wait for its write: wait until /fib exists.
  while ((await AtomKV.get('/fib'))[1] < 0) await new Promise((r) => setTimeout(r, 10))
  const results = []
  for (let i = 0; i < n; i++) {
    const next = await increment()
    results.push(next)
    await AtomKV.set('/session/' + name, next)
  }
  return results
}
</script>
</head><body>original AtomKV page</body></html>`

test('the original README examples run unchanged from two pages at once', async ({ browser }) => {
  const server = await startStandalone()
  const site = await servePage(originalPage(server.url))
  try {
    const context = await browser.newContext()
    const [one, two] = await Promise.all([context.newPage(), context.newPage()])
    await Promise.all([one.goto(site.url), two.goto(site.url)])
    // Both monitors are live before anything is written (a fresh server holds no /fib yet).
    await Promise.all([one, two].map((page) => page.waitForFunction(() => (window as any).AtomKV.status === 'open')))
    expect(await getKey(server.url, '/fib')).toBeUndefined()

    const [a, b] = await Promise.all([
      one.evaluate(() => (window as any).run('one', 10)),
      two.evaluate(() => (window as any).run('two', 10)),
    ])
    // 20 increments from [0, 1]: [F20, F21], whatever the interleaving; each pair committed once.
    expect(await getKey(server.url, '/fib')).toEqual([6765, 10946])
    const seconds = [...a, ...b].map(([, second]: [number, number]) => second)
    expect(new Set(seconds).size).toBe(20)

    // Each monitor saw the other page's reports, in revision order, ending with its last result.
    for (const [page, other, last] of [
      [one, '/session/two', b.at(-1)],
      [two, '/session/one', a.at(-1)],
    ] as const) {
      await expect
        .poll(() => page.evaluate((key) => (window as any).seen.filter(([k]: [string]) => k === key), other))
        .toHaveLength(10)
      const seen = (await page.evaluate((key) => (window as any).seen.filter(([k]: [string]) => k === key), other)) as [
        string,
        [number, number],
        number,
      ][]
      expect(seen.map(([, , rev]) => rev)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(seen.at(-1)![1]).toEqual(last)
    }
    await context.close()
  } finally {
    await site.close()
    await server.stop()
  }
})

/** A page that renders one watched key and the connection status. */
const watchingPage = (server: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>watch</title><script src="${server}/"></script></head>
<body>
<p>status: <span id="status"></span></p>
<p>value: <span id="value">none</span></p>
<script>
const status = document.getElementById('status')
status.textContent = AtomKV.status
AtomKV.onStatus((s) => { status.textContent = s })
window.events = []
AtomKV.watch('/live', (event) => {
  window.events.push(JSON.stringify(event))
  if (event.type === 'value') document.getElementById('value').textContent = JSON.stringify(event.value)
}, { initial: true })
</script>
</body></html>`

test('pages reconnect by themselves when the server restarts on the same port', async ({ page }) => {
  let server = await startStandalone()
  const site = await servePage(watchingPage(server.url))
  try {
    await setKey(server.url, '/live', 'before')
    await page.goto(site.url)
    await expect(page.locator('#status')).toHaveText('open')
    await expect(page.locator('#value')).toHaveText('"before"')

    await server.stop()
    await expect(page.locator('#status')).not.toHaveText('open')
    server = await startStandalone(server.port)
    await expect(page.locator('#status')).toHaveText('open', { timeout: 15_000 })
    // Without persistence the new server counts revisions from 0 again; write
    // twice so the value's revision (1) is newer than the one the page saw (0).
    await setKey(server.url, '/live', 'first after restart')
    await setKey(server.url, '/live', 'after restart')
    await expect(page.locator('#value')).toHaveText('"after restart"', { timeout: 15_000 })
  } finally {
    await site.close()
    await server.stop()
  }
})

// Ids are `<key>:<revision>`, so after a restart the page's last id (here
// `/live:0`) can name a new write; the client's `instance=` makes that a reset.
test('a page shows a value written to the restarted server before it reconnected', async ({ page }) => {
  let server = await startStandalone()
  const site = await servePage(watchingPage(server.url))
  try {
    await setKey(server.url, '/live', 'before')
    await page.goto(site.url)
    await expect(page.locator('#value')).toHaveText('"before"')
    await server.stop()
    await expect(page.locator('#status')).not.toHaveText('open')
    server = await startStandalone(server.port)
    await setKey(server.url, '/live', 'after restart')
    await expect(page.locator('#value')).toHaveText('"after restart"', { timeout: 15_000 })
  } finally {
    await site.close()
    await server.stop()
  }
})
