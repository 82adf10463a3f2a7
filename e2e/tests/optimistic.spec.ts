// Optimistic values in the demo's counter, in a real browser: a click shows
// at once (marked pending) however long the server takes, clicks in flight
// stack, and pages that clicked at the same time end on the same count.

import type { Page } from '@playwright/test'
import { DEMO_KV, getKey, setKey } from './helpers.js'
import { expect, test } from './room.js'

/** Opens `path` and waits until it is connected and shows the counter. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(path)
  await expect(page.getByTestId('status')).toHaveText('open', { timeout: 15_000 })
  await expect(page.getByTestId('counter')).not.toHaveText('…', { timeout: 15_000 })
}

/**
 * Holds back every request the page makes for `key` (its reads and writes;
 * the stream is another path) until `release()`: while held, nothing the page
 * shows for its own clicks can have come from the server. After `release()`
 * requests pass straight through (the route stays: taking it away would
 * answer the held ones itself).
 */
async function holdRequests(page: Page, key: string) {
  const path = new URL(DEMO_KV + key).pathname
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let held = 0
  const matches = (url: URL) => url.pathname === path
  await page.route(matches, async (route) => {
    held++
    await gate
    await route.continue()
  })
  return {
    held: () => held,
    release,
  }
}

test('two pages clicking +1 fast see their own clicks at once, pending, and end equal', async ({ browser, room }) => {
  // Thirty-five clicks a page, each a compare-and-swap that may retry: slow on a busy two-core machine.
  test.slow()
  await setKey(DEMO_KV, room.keys.counter, 0)
  const [a, b] = await Promise.all([browser.newContext(), browser.newContext()])
  const [react, svelte] = await Promise.all([a.newPage(), b.newPage()])
  await Promise.all([open(react, room.page('/react.html')), open(svelte, room.page('/svelte.html'))])
  const pages = [react, svelte]
  for (const page of pages) await expect(page.getByTestId('counter')).toHaveText('0')

  // Every request for the counter held: each page shows its own clicks, and only those.
  const holds = await Promise.all(pages.map((page) => holdRequests(page, room.keys.counter)))
  await Promise.all(
    pages.map(async (page) => {
      const counter = page.getByTestId('counter')
      for (let i = 1; i <= 10; i++) {
        await page.getByTestId('counter-inc').click()
        await expect(counter).toHaveText(String(i))
        await expect(counter).toHaveAttribute('data-pending', 'true')
      }
    }),
  )
  for (const hold of holds) expect(hold.held()).toBeGreaterThan(0)
  expect(await getKey(DEMO_KV, room.keys.counter)).toBe(0)

  // Let them through: the two pages' clicks race on the server, and both end on the sum.
  for (const hold of holds) hold.release()
  for (const page of pages) {
    await expect(page.getByTestId('counter')).toHaveText('20', { timeout: 20_000 })
    await expect(page.getByTestId('counter')).toHaveAttribute('data-pending', 'false')
  }
  expect(await getKey(DEMO_KV, room.keys.counter)).toBe(20)

  // Now with nothing held, both clicking as fast as they can: a page never
  // shows less than the count it has seen plus its own clicks still in flight.
  await Promise.all(
    pages.map(async (page) => {
      const counter = page.getByTestId('counter')
      for (let i = 1; i <= 15; i++) {
        await page.getByTestId('counter-inc').click()
        await expect.poll(async () => Number(await counter.textContent())).toBeGreaterThanOrEqual(20 + i)
      }
    }),
  )
  for (const page of pages) {
    await expect(page.getByTestId('counter')).toHaveText('50', { timeout: 20_000 })
    await expect(page.getByTestId('counter')).toHaveAttribute('data-pending', 'false')
  }
  expect(await getKey(DEMO_KV, room.keys.counter)).toBe(50)
  await Promise.all([a.close(), b.close()])
})
