// The inspector in Chromium: on a standalone server started with --inspect
// (browse, watch a write from elsewhere, edit with compare-and-swap and lose
// to another writer, delete, create, the counts), with --auth and a read-only
// token (it may look, not touch), and inside the demo's Vite dev server.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, type Page, test } from '@playwright/test'
import { DEMO_KV, getKey, setKey, startStandalone } from './helpers.js'

/** Fails the test on anything the page's Content-Security-Policy blocked (or any script error). */
function watchForProblems(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text())
  })
  return problems
}

const keyRow = (page: Page, key: string) => page.locator(`#tree [data-key="${key}"]`)
const logEntry = (page: Page, kind: string, key: string) => page.locator(`#log li[data-kind="${kind}"][data-key="${key}"]`)

test('browse, watch, edit with compare-and-swap, delete and create on a standalone server', async ({ page }) => {
  const server = await startStandalone(undefined, ['--inspect'])
  const problems = watchForProblems(page)
  try {
    await setKey(server.url, '/app/a', 1)
    await setKey(server.url, '/app/b/c', { deep: [1, 2] })
    await setKey(server.url, '/other', 'not watched')
    await page.goto(`${server.url}/.inspect`)
    await expect(page.locator('#tree .hint')).toContainText('Watch a prefix')

    // Browse: the keys under the prefix, with their revisions and values.
    await page.fill('#watch-path', '/app/')
    await page.click('#watch-form button')
    await expect(page.locator('#status')).toHaveText('open')
    await expect(page.locator('#watched [data-path="/app/"]')).toHaveClass('live')
    await expect(keyRow(page, '/app/a')).toHaveAttribute('data-revision', '0')
    await expect(page.locator('#tree [data-folder="/app/b/"] [data-key="/app/b/c"] summary')).toHaveText('{"deep":[1,2]}')
    await expect(keyRow(page, '/other')).toHaveCount(0)
    await page.locator('#tree [data-value="/app/b/c"] summary').click()
    await expect(page.locator('#tree [data-value="/app/b/c"] pre')).toHaveText(JSON.stringify({ deep: [1, 2] }, null, 2))
    // The watched prefix is kept in the URL: a reload watches it again.
    expect(new URL(page.url()).hash).toBe('#/app/')
    await expect(page.locator('#log li[data-kind="ready"][data-key="/app/"]')).toHaveCount(1)
    await expect(page.locator('#counts [data-count="keys"]')).toHaveText('3')
    await expect(page.locator('#counts [data-count="streams"]')).toHaveText('1')

    // A write from elsewhere appears live, in the tree and the log.
    await setKey(server.url, '/app/live', 'hello')
    await expect(keyRow(page, '/app/live')).toHaveAttribute('data-revision', '0')
    await expect(logEntry(page, 'write', '/app/live')).toContainText('"hello"')
    await expect(page.locator('#counts [data-count="keys"]')).toHaveText('4')

    // Edit with compare-and-swap: based on revision 0, saved as revision 1.
    await keyRow(page, '/app/a').locator('button.name').click()
    await expect(page.locator('#key')).toHaveValue('/app/a')
    await expect(page.locator('#value')).toHaveValue('1')
    await expect(page.locator('#base')).toHaveAttribute('data-revision', '0')
    await page.fill('#value', '{"n": 2}')
    await page.click('#save')
    await expect(page.locator('#outcome')).toHaveAttribute('data-kind', 'ok')
    await expect(page.locator('#outcome')).toContainText('revision 1')
    await expect(keyRow(page, '/app/a')).toHaveAttribute('data-revision', '1')
    expect(await getKey(server.url, '/app/a')).toEqual({ n: 2 })

    // Another writer gets there first: the page says so, shows its value, and does not overwrite it.
    await setKey(server.url, '/app/a', 'theirs')
    await expect(page.locator('#drift')).toContainText('now at revision 2')
    await page.fill('#value', '"mine"')
    await page.click('#save')
    await expect(page.locator('#outcome')).toHaveAttribute('data-kind', 'conflict')
    await expect(page.locator('#outcome')).toContainText('409 Conflict')
    await expect(page.locator('#outcome')).toContainText('is at revision 2 now')
    await expect(page.locator('#outcome pre')).toHaveText('"theirs"')
    expect(await getKey(server.url, '/app/a')).toBe('theirs')
    // Reload the current value, and the edit goes through on top of it.
    await page.click('#load-current')
    await expect(page.locator('#value')).toHaveValue('"theirs"')
    await expect(page.locator('#base')).toHaveAttribute('data-revision', '2')
    await page.fill('#value', '"mine, after theirs"')
    await page.click('#save')
    await expect(page.locator('#outcome')).toContainText('revision 3')
    expect(await getKey(server.url, '/app/a')).toBe('mine, after theirs')

    // Delete (compare-and-delete at the revision shown): the key vanishes, the log has the removal.
    await keyRow(page, '/app/live').locator('button.name').click()
    await page.click('#delete')
    await expect(page.locator('#outcome')).toContainText('Deleted /app/live')
    await expect(keyRow(page, '/app/live')).toHaveCount(0)
    await expect(logEntry(page, 'remove', '/app/live')).toHaveAttribute('data-revision', '-1')
    expect(await getKey(server.url, '/app/live')).toBeUndefined()

    // Create: saved only if missing (X-Revision: 0); an existing key is a conflict.
    await page.click('#new')
    await expect(page.locator('#key')).toHaveValue('/app/')
    await page.fill('#key', '/app/created')
    await page.fill('#value', '[1, 2, 3]')
    await page.click('#save')
    await expect(page.locator('#outcome')).toContainText('Saved /app/created: revision 0')
    await expect(keyRow(page, '/app/created')).toHaveAttribute('data-revision', '0')
    await page.click('#new')
    await page.fill('#key', '/app/b/c')
    await page.click('#save')
    await expect(page.locator('#outcome')).toContainText('/app/b/c already exists')
    expect(await getKey(server.url, '/app/b/c')).toEqual({ deep: [1, 2] })

    // Not JSON, and not a key: said, nothing sent or stored.
    await page.fill('#value', '{oops')
    await page.click('#save')
    await expect(page.locator('#outcome')).toContainText('Not JSON')
    await page.fill('#key', '/app/no.dots')
    await page.fill('#value', '1')
    await page.click('#save')
    await expect(page.locator('#outcome')).toHaveAttribute('data-kind', 'refused')
    await expect(page.locator('#outcome')).toContainText('400')
    expect(problems).toEqual([])
  } finally {
    await server.stop()
  }
})

test('with --auth, it acts with the rights of its token: a read-only one may look, not touch', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-e2e-inspect-'))
  const file = join(dir, 'tokens.json')
  writeFileSync(file, JSON.stringify({ tokens: { 'reader-token-1': { read: ['/app/'] }, 'admin-token-1': { read: ['/'], write: ['/'] } } }))
  const server = await startStandalone(undefined, ['--auth', file, '--inspect'])
  const problems = watchForProblems(page)
  const admin = { authorization: 'Bearer admin-token-1' }
  try {
    const written = await fetch(`${server.url}/app/a`, { method: 'POST', body: '"kept"', headers: admin })
    expect(written.status).toBe(200)

    // No token: the page loads, the data does not.
    await page.goto(`${server.url}/.inspect#/app/`)
    await expect(page.locator('#watched [data-path="/app/"]')).toHaveClass('refused')
    await expect(page.locator('#watched [data-path="/app/"] .problem')).toContainText('unauthenticated')
    await expect(page.locator('#counts')).toContainText('401')

    // A read-only token, kept for this tab: the keys and live writes show, the counts (read on /) do not.
    await page.fill('#token', 'reader-token-1')
    await page.click('#token-form button')
    await expect(keyRow(page, '/app/a')).toHaveAttribute('data-revision', '0')
    expect(await page.evaluate(() => sessionStorage.getItem('atomkv-inspector-token'))).toBe('reader-token-1')
    await expect(page.locator('#counts')).toContainText('403')
    await fetch(`${server.url}/app/b`, { method: 'POST', body: '2', headers: admin })
    await expect(keyRow(page, '/app/b')).toHaveAttribute('data-revision', '0')

    // It may not write or delete: refused, said so, nothing changed.
    await keyRow(page, '/app/a').locator('button.name').click()
    await page.fill('#value', '"changed"')
    await page.click('#save')
    await expect(page.locator('#outcome')).toHaveAttribute('data-kind', 'refused')
    await expect(page.locator('#outcome')).toContainText('403 Forbidden: forbidden: not allowed to write "/app/a"')
    await page.click('#delete')
    await expect(page.locator('#outcome')).toContainText('Not deleted: 403 Forbidden')
    const stored = await fetch(`${server.url}/app/a`, { headers: admin })
    expect(await stored.json()).toBe('kept')

    // A prefix beyond its rights is refused, not silently empty.
    await page.fill('#watch-path', '/other/')
    await page.click('#watch-form button')
    await expect(page.locator('#watched [data-path="/other/"] .problem')).toContainText('forbidden')
    expect(problems).toEqual([])
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the Vite plugin serves it under /__atomkv by default', async ({ page }, info) => {
  const problems = watchForProblems(page)
  const prefix = `/e2e/inspector/r${info.repeatEachIndex}/`
  await setKey(DEMO_KV, `${prefix}seeded`, 'from the test')
  await page.goto(`${DEMO_KV}/.inspect#${prefix}`)
  await expect(keyRow(page, `${prefix}seeded`)).toHaveAttribute('data-revision', /\d+/)
  await expect(page.locator('#status')).toHaveText('open')
  await setKey(DEMO_KV, `${prefix}live`, { at: 'vite' })
  await expect(keyRow(page, `${prefix}live`).locator('summary')).toHaveText('{"at":"vite"}')
  await expect(page.locator('#counts [data-count="streams"]')).not.toBeEmpty()
  // Its writes pass the plugin's origin check: the page is the dev server's own.
  await keyRow(page, `${prefix}live`).locator('button.name').click()
  await page.fill('#value', '{"at": "the inspector"}')
  await page.click('#save')
  await expect(page.locator('#outcome')).toHaveAttribute('data-kind', 'ok')
  expect(await getKey(DEMO_KV, `${prefix}live`)).toEqual({ at: 'the inspector' })
  expect(problems).toEqual([])
})
