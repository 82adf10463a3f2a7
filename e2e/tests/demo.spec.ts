// The demo app (React and Svelte pages, AtomKV inside Vite's dev server).
// Its tests share one store, so they run one after another in this file.

import { expect, type Page, test } from '@playwright/test'
import { DEMO_KV, getKey, setKey } from './helpers.js'

test.describe.configure({ mode: 'serial' })

/** Streams open on the demo's service. */
const streams = async () => ((await (await fetch(`${DEMO_KV}/.stats`)).json()) as { streams: number }).streams

/** Opens `path` and waits until it is connected and shows the counter. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(path)
  await expect(page.getByTestId('status')).toHaveText('open', { timeout: 10_000 })
  await expect(page.getByTestId('counter')).not.toHaveText('…')
}

test('two browsers see each other’s counter and board changes within a second', async ({ browser }) => {
  const [a, b] = await Promise.all([browser.newContext(), browser.newContext()])
  const [pageA, pageB] = await Promise.all([a.newPage(), b.newPage()])
  await Promise.all([open(pageA, '/react.html'), open(pageB, '/react.html')])

  const before = Number(await pageA.getByTestId('counter').textContent())
  await pageA.getByTestId('counter-inc').click()
  await expect(pageB.getByTestId('counter')).toHaveText(String(before + 1), { timeout: 1000 })

  const text = `note ${Date.now()}`
  await pageA.getByTestId('note-input').fill(text)
  await pageA.getByTestId('note-add').click()
  await expect(pageA.getByTestId('note-text').last()).toHaveValue(text)
  const id = await pageA.getByTestId('note').last().getAttribute('data-id')
  const noteA = pageA.locator(`[data-id="${id}"]`)
  const noteB = pageB.locator(`[data-id="${id}"]`)
  await expect(noteB.getByTestId('note-text')).toHaveValue(text, { timeout: 1000 })

  // An edit in B shows in A.
  await noteB.getByTestId('note-text').fill(`${text} edited`)
  await noteB.getByTestId('note-text').press('Enter')
  await expect(noteA.getByTestId('note-text')).toHaveValue(`${text} edited`, { timeout: 1000 })

  // A delete in A leaves B.
  await noteA.getByTestId('note-delete').click()
  await expect(noteB).toHaveCount(0, { timeout: 1000 })
  await Promise.all([a.close(), b.close()])
})

test('the board reorders by compare-and-swap on its order key', async ({ page }) => {
  await setKey(DEMO_KV, '/demo/board-order', [])
  await open(page, '/svelte.html')
  for (const text of ['first', 'second']) {
    await page.getByTestId('note-input').fill(text)
    await page.getByTestId('note-add').click()
    await expect(page.getByTestId('note-text').last()).toHaveValue(text)
  }
  const ids = () => page.getByTestId('note').evaluateAll((notes) => notes.map((n) => n.getAttribute('data-id')))
  const [first, second] = await ids()
  expect(await getKey(DEMO_KV, '/demo/board-order')).toEqual([first, second])
  await page.getByTestId('note').nth(1).getByTestId('note-up').click()
  const texts = () => page.getByTestId('note-text').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))
  await expect.poll(texts).toEqual(['second', 'first'])
  // The stored order moved, not just the page: the same two notes, swapped.
  expect(await getKey(DEMO_KV, '/demo/board-order')).toEqual([second, first])
  expect(await ids()).toEqual([second, first])
})

test('four pages clicking +1 25 times each end at exactly 100 on every page', async ({ browser }) => {
  await setKey(DEMO_KV, '/demo/counter', 0)
  const context = await browser.newContext()
  const pages = await Promise.all([0, 1, 2, 3].map(() => context.newPage()))
  await Promise.all(pages.map((page, i) => open(page, i % 2 ? '/svelte.html' : '/react.html')))
  for (const page of pages) await expect(page.getByTestId('counter')).toHaveText('0')

  await Promise.all(
    pages.map(async (page) => {
      const button = page.getByTestId('counter-inc')
      for (let i = 0; i < 25; i++) await button.click()
    }),
  )
  for (const page of pages) await expect(page.getByTestId('counter')).toHaveText('100', { timeout: 20_000 })
  expect(await getKey(DEMO_KV, '/demo/counter')).toBe(100)
  await context.close()
})

test('the React page and the Svelte page stay in sync on the same keys', async ({ browser }) => {
  const context = await browser.newContext()
  const [react, svelte] = await Promise.all([context.newPage(), context.newPage()])
  await Promise.all([open(react, '/react.html'), open(svelte, '/svelte.html')])

  await setKey(DEMO_KV, '/demo/fib', [0, 1])
  await expect(svelte.getByTestId('fib')).toHaveText('0, 1')
  await react.getByTestId('fib-inc').click()
  await expect(svelte.getByTestId('fib')).toHaveText('1, 1')
  await svelte.getByTestId('fib-inc').click()
  await expect(react.getByTestId('fib')).toHaveText('1, 2')

  const count = Number(await react.getByTestId('counter').textContent())
  await svelte.getByTestId('counter-inc').click()
  await expect(react.getByTestId('counter')).toHaveText(String(count + 1))
  await react.getByTestId('counter-inc').click()
  await expect(svelte.getByTestId('counter')).toHaveText(String(count + 2))
  await context.close()
})

test('a stream the client replaces frees its connection at once', async ({ page }) => {
  await expect.poll(streams, { timeout: 10_000 }).toBe(0)
  await page.goto('/')
  await page.addScriptTag({ url: '/__atomkv/' }) // the browser build: window.AtomKV
  await page.evaluate(async () => {
    type Client = { watch(key: string, listener: () => void): () => void }
    const { AtomKV } = window as unknown as { AtomKV: { createClient(options: { url: string }): Client } }
    const client = AtomKV.createClient({ url: '/__atomkv' })
    // A new key every few milliseconds: each reopens the stream, often before
    // the last one answered. Chrome goes on reading ("draining") a stream
    // dropped that early for up to 5 s, holding one of its six connections
    // to the origin, unless the server ends it.
    for (let i = 0; i < 60; i++) {
      client.watch(`/reopen/${i}`, () => {})
      await new Promise((resolve) => setTimeout(resolve, 1 + (i % 5)))
    }
  })
  await expect.poll(streams, { timeout: 2000 }).toBe(1)
})

test('the tabs of one browser share one stream, and it moves when the leading tab closes', async ({ browser }) => {
  // Earlier tests' pages are gone, and their streams with them.
  await expect.poll(streams, { timeout: 10_000 }).toBe(0)
  const context = await browser.newContext()
  const first = await context.newPage()
  await open(first, '/react.html')
  const others = [await context.newPage(), await context.newPage()]
  await Promise.all(others.map((page, i) => open(page, i ? '/svelte.html' : '/react.html')))
  // The leader reopened its stream for the new tabs' keys; the server ended the old one at once.
  await expect.poll(streams, { timeout: 2000 }).toBe(1)
  // The demo's home page shows the server's count.
  const home = await context.newPage()
  await home.goto('/')
  await expect(home.getByTestId('streams')).toHaveText('1')

  await setKey(DEMO_KV, '/demo/counter', 10)
  for (const page of [first, ...others]) await expect(page.getByTestId('counter')).toHaveText('10')
  await others[1]!.getByTestId('counter-inc').click()
  for (const page of [first, ...others]) await expect(page.getByTestId('counter')).toHaveText('11')

  // The leading tab goes; a write lands while no tab leads, and is not lost.
  await first.close()
  await setKey(DEMO_KV, '/demo/counter', 20)
  for (const page of others) await expect(page.getByTestId('counter')).toHaveText('20', { timeout: 10_000 })
  await expect.poll(streams, { timeout: 10_000 }).toBe(1)
  await others[0]!.getByTestId('counter-inc').click()
  await expect(others[1]!.getByTestId('counter')).toHaveText('21')
  for (const page of others) await expect(page.getByTestId('status')).toHaveText('open')
  await expect(home.getByTestId('streams')).toHaveText('1')

  // Another browser profile does not share: its own stream.
  const elsewhere = await browser.newContext()
  await open(await elsewhere.newPage(), '/react.html')
  await expect.poll(streams, { timeout: 2000 }).toBe(2)
  await Promise.all([context.close(), elsewhere.close()])
})

test('every demo page renders its parts connected, with the stored values (screenshots attached)', async ({ page }, testInfo) => {
  await page.goto('/')
  await expect(page.getByTestId('url')).toHaveText(DEMO_KV)
  await testInfo.attach('index', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
  await setKey(DEMO_KV, '/demo/counter', 41)
  await setKey(DEMO_KV, '/demo/fib', [3, 5])
  for (const name of ['react', 'svelte']) {
    await open(page, `/${name}.html`)
    await expect(page.getByTestId('counter')).toHaveText('41')
    await expect(page.getByTestId('fib')).toContainText('5')
    await expect(page.getByTestId('notes')).toBeAttached()
    await expect(page.getByTestId('note-add')).toBeEnabled()
    await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
  }
})
