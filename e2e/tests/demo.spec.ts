// The demo app (React and Svelte pages, AtomKV inside Vite's dev server).
// Each test has its own room (its own keys) on the shared demo server; the
// tests that count the service's open streams start a demo server of their own.

import type { Page } from '@playwright/test'
import { demoKeys } from '../../demo/src/shared.js'
import { DEMO, DEMO_KV, getKey, setKey, startDemo } from './helpers.js'
import { expect, test } from './room.js'

/** Streams open on the service at `kv`. */
const streamsOn = (kv: string) => async () =>
  ((await (await fetch(`${kv}/.stats`)).json()) as { streams: number }).streams

/** Opens `path` and waits until it is connected and shows the counter. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(path)
  await expect(page.getByTestId('status')).toHaveText('open', { timeout: 15_000 })
  await expect(page.getByTestId('counter')).not.toHaveText('…', { timeout: 15_000 })
}

test('two browsers see each other’s counter and board changes live', async ({ browser, room }) => {
  const [a, b] = await Promise.all([browser.newContext(), browser.newContext()])
  const [pageA, pageB] = await Promise.all([a.newPage(), b.newPage()])
  await Promise.all([open(pageA, room.page('/react.html')), open(pageB, room.page('/react.html'))])

  // A fresh room: the counter starts at 0.
  await expect(pageA.getByTestId('counter')).toHaveText('0')
  await pageA.getByTestId('counter-inc').click()
  await expect(pageB.getByTestId('counter')).toHaveText('1', { timeout: 10_000 })

  const text = `note ${Date.now()}`
  await pageA.getByTestId('note-input').fill(text)
  await pageA.getByTestId('note-add').click()
  await expect(pageA.getByTestId('note-text').last()).toHaveValue(text)
  const id = await pageA.getByTestId('note').last().getAttribute('data-id')
  const noteA = pageA.locator(`[data-id="${id}"]`)
  const noteB = pageB.locator(`[data-id="${id}"]`)
  await expect(noteB.getByTestId('note-text')).toHaveValue(text, { timeout: 10_000 })

  // An edit in B shows in A.
  await noteB.getByTestId('note-text').fill(`${text} edited`)
  await noteB.getByTestId('note-text').press('Enter')
  await expect(noteA.getByTestId('note-text')).toHaveValue(`${text} edited`, { timeout: 10_000 })

  // A delete in A leaves B, and the note's key is gone from the store.
  expect(await getKey(DEMO_KV, room.keys.notes + id)).toEqual({ text: `${text} edited` })
  await noteA.getByTestId('note-delete').click()
  await expect(noteB).toHaveCount(0, { timeout: 10_000 })
  await expect.poll(() => getKey(DEMO_KV, room.keys.notes + id), { timeout: 10_000 }).toBeUndefined()
  await Promise.all([a.close(), b.close()])
})

test('the board reorders by compare-and-swap on its order key', async ({ page, room }) => {
  await setKey(DEMO_KV, room.keys.boardOrder, [])
  await open(page, room.page('/svelte.html'))
  for (const text of ['first', 'second']) {
    await page.getByTestId('note-input').fill(text)
    await page.getByTestId('note-add').click()
    await expect(page.getByTestId('note-text').last()).toHaveValue(text)
  }
  const ids = () => page.getByTestId('note').evaluateAll((notes) => notes.map((n) => n.getAttribute('data-id')))
  const [first, second] = await ids()
  expect(await getKey(DEMO_KV, room.keys.boardOrder)).toEqual([first, second])
  await page.getByTestId('note').nth(1).getByTestId('note-up').click()
  const texts = () => page.getByTestId('note-text').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))
  await expect.poll(texts).toEqual(['second', 'first'])
  // The stored order moved, not just the page: the same two notes, swapped.
  expect(await getKey(DEMO_KV, room.keys.boardOrder)).toEqual([second, first])
  expect(await ids()).toEqual([second, first])
})

test('four pages clicking +1 25 times each end at exactly 100 on every page', async ({ browser, room }) => {
  // A hundred clicks, each a compare-and-swap that may retry: 15-20 s on a busy two-core machine.
  test.slow()
  await setKey(DEMO_KV, room.keys.counter, 0)
  const context = await browser.newContext()
  const pages = await Promise.all([0, 1, 2, 3].map(() => context.newPage()))
  await Promise.all(pages.map((page, i) => open(page, room.page(i % 2 ? '/svelte.html' : '/react.html'))))
  for (const page of pages) await expect(page.getByTestId('counter')).toHaveText('0')

  await Promise.all(
    pages.map(async (page) => {
      const button = page.getByTestId('counter-inc')
      for (let i = 0; i < 25; i++) await button.click()
    }),
  )
  for (const page of pages) await expect(page.getByTestId('counter')).toHaveText('100', { timeout: 20_000 })
  expect(await getKey(DEMO_KV, room.keys.counter)).toBe(100)
  await context.close()
})

test('the React page and the Svelte page stay in sync on the same keys', async ({ browser, room }) => {
  const context = await browser.newContext()
  const [react, svelte] = await Promise.all([context.newPage(), context.newPage()])
  await Promise.all([open(react, room.page('/react.html')), open(svelte, room.page('/svelte.html'))])

  await setKey(DEMO_KV, room.keys.fib, [0, 1])
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

test('every demo page renders its parts connected, with the stored values, and keeps the room (screenshots attached)', async ({
  page,
  room,
}, testInfo) => {
  await page.goto(room.page('/'))
  await expect(page.getByTestId('url')).toHaveText(DEMO_KV)
  await testInfo.attach('index', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
  await setKey(DEMO_KV, room.keys.counter, 41)
  await setKey(DEMO_KV, room.keys.fib, [3, 5])
  // From the home page to the React page, and on to the Svelte page, by their links: in the same room.
  for (const [name, link] of [
    ['react', page.getByTestId('link-react')],
    ['svelte', page.getByRole('link', { name: 'Svelte page' })],
  ] as const) {
    await link.click()
    await expect(page).toHaveURL(DEMO + room.page(`/${name}.html`))
    await expect(page.getByTestId('status')).toHaveText('open', { timeout: 15_000 })
    await expect(page.getByTestId('counter')).toHaveText('41')
    await expect(page.getByTestId('fib')).toHaveText('3, 5')
    await expect(page.getByTestId('notes')).toBeAttached()
    await expect(page.getByTestId('note-add')).toBeEnabled()
    await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
  }
})

// These count the open streams of a whole service (its /.stats): each starts
// a demo server of its own, where no other test opens one. Its pages use the
// keys of no room.
test.describe('on a demo server of its own', () => {
  const keys = demoKeys()

  test('a stream the client replaces frees its connection at once', async ({ page }, testInfo) => {
    const demo = await startDemo(testInfo.parallelIndex)
    const streams = streamsOn(demo.kv)
    try {
      expect(await streams()).toBe(0)
      await page.goto(`${demo.url}/`)
      await page.addScriptTag({ url: `${demo.kv}/` }) // the browser build: window.AtomKV
      await page.evaluate(async () => {
        type Client = { watch(key: string, listener: (event: { type: string }) => void): () => void }
        const { AtomKV } = window as unknown as { AtomKV: { createClient(options: { url: string }): Client } }
        const client = AtomKV.createClient({ url: '/__atomkv' })
        // A new key every few milliseconds: each reopens the stream, often before
        // the last one answered. Chrome goes on reading ("draining") a stream
        // dropped that early for up to 5 s, holding one of its six connections
        // to the origin, unless the server ends it.
        let lastReady!: () => void
        const last = new Promise<void>((resolve) => (lastReady = resolve))
        for (let i = 0; i < 60; i++) {
          client.watch(`/reopen/${i}`, (event) => {
            if (i === 59 && event.type === 'ready') lastReady()
          })
          await new Promise((resolve) => setTimeout(resolve, 1 + (i % 5)))
        }
        // The last key's ready comes on the last stream: it is open, however long a busy machine took.
        await last
      })
      // The bound stands for Chrome's 5 s drain: a replaced stream the server
      // left open would count that long. It starts once the last stream is open.
      await expect.poll(streams, { timeout: 2000 }).toBe(1)
    } finally {
      await demo.stop()
    }
  })

  test('the tabs of one browser share one stream, and it moves when the leading tab closes', async ({
    browser,
  }, testInfo) => {
    const demo = await startDemo(testInfo.parallelIndex)
    const streams = streamsOn(demo.kv)
    try {
      expect(await streams()).toBe(0)
      const context = await browser.newContext()
      const first = await context.newPage()
      await open(first, `${demo.url}/react.html`)
      const others = [await context.newPage(), await context.newPage()]
      await Promise.all(others.map((page, i) => open(page, `${demo.url}/${i ? 'svelte' : 'react'}.html`)))
      // The leader reopened its stream for the new tabs' keys; the server ended the old one at once.
      await expect.poll(streams, { timeout: 2000 }).toBe(1)
      // The demo's home page shows the server's count.
      const home = await context.newPage()
      await home.goto(`${demo.url}/`)
      await expect(home.getByTestId('streams')).toHaveText('1')

      await setKey(demo.kv, keys.counter, 10)
      for (const page of [first, ...others]) await expect(page.getByTestId('counter')).toHaveText('10')
      await others[1]!.getByTestId('counter-inc').click()
      for (const page of [first, ...others]) await expect(page.getByTestId('counter')).toHaveText('11')

      // The leading tab goes; a write lands while no tab leads, and is not lost.
      await first.close()
      await setKey(demo.kv, keys.counter, 20)
      for (const page of others) await expect(page.getByTestId('counter')).toHaveText('20', { timeout: 10_000 })
      await expect.poll(streams, { timeout: 10_000 }).toBe(1)
      await others[0]!.getByTestId('counter-inc').click()
      await expect(others[1]!.getByTestId('counter')).toHaveText('21')
      for (const page of others) await expect(page.getByTestId('status')).toHaveText('open')
      await expect(home.getByTestId('streams')).toHaveText('1')

      // Another browser profile does not share: its own stream.
      const elsewhere = await browser.newContext()
      await open(await elsewhere.newPage(), `${demo.url}/react.html`)
      await expect.poll(streams, { timeout: 2000 }).toBe(2)
      await Promise.all([context.close(), elsewhere.close()])
    } finally {
      await demo.stop()
    }
  })
})
