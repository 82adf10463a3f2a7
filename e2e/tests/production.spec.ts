// The deploy path of the README: an app built with `vite build` and the
// plugin's `url` option, served as static files, talking to a standalone
// `atomkv` on another origin (with that origin in --cors-origin), live.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { atomkv } from '@atomkv/server/vite'
import { freePort, getKey, serveDir, setKey, startStandalone } from './helpers.js'

/** A page that shows one key live and increments it with compare-and-swap. */
const MAIN = `
import { client, url } from 'virtual:atomkv'
document.querySelector('#url').textContent = url
const value = document.querySelector('#value')
client.watch('/prod/counter', (event) => {
  if (event.type === 'value') value.textContent = JSON.stringify(event.value)
  if (event.type === 'delete') value.textContent = 'missing'
}, { initial: true })
client.onStatus((status) => { document.querySelector('#status').textContent = status })
document.querySelector('#add').onclick = () => client.modify('/prod/counter', (n) => (n ?? 0) + 1)
`

test('a production build with the url option reads and writes a standalone server live', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-prod-app-'))
  const appPort = await freePort()
  const appOrigin = `http://127.0.0.1:${appPort}`
  // As in production: only the app's origin may call the service.
  const server = await startStandalone(undefined, ['--cors-origin', appOrigin])
  let site: Awaited<ReturnType<typeof serveDir>> | undefined
  try {
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><p>url: <span id="url"></span></p><p>status: <span id="status"></span></p>' +
        '<p>value: <span id="value">none</span></p><button id="add">+1</button><script type="module" src="/main.js"></script>',
    )
    writeFileSync(join(dir, 'main.js'), MAIN)
    const { build } = await import('vite')
    await build({
      configFile: false,
      root: dir,
      logLevel: 'warn',
      plugins: [atomkv({ url: server.url, client: { shareAcrossTabs: true } })],
      build: { outDir: join(dir, 'dist') },
    })
    site = await serveDir(join(dir, 'dist'), appPort)

    await setKey(server.url, '/prod/counter', 41)
    const requests: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    await page.goto(site.url)
    await expect(page.locator('#url')).toHaveText(server.url)
    await expect(page.locator('#status')).toHaveText('open')
    await expect(page.locator('#value')).toHaveText('41')

    // A write from the page reaches the server...
    await page.locator('#add').click()
    await expect.poll(() => getKey(server.url, '/prod/counter')).toBe(42)
    await expect(page.locator('#value')).toHaveText('42')
    // ...and one from elsewhere reaches the page, live.
    await setKey(server.url, '/prod/counter', 100)
    await expect(page.locator('#value')).toHaveText('100')

    // Everything went to the standalone server: nothing to the page's own origin but the app's files.
    expect(requests.filter((url) => url.includes('__atomkv'))).toEqual([])
    expect(requests.some((url) => url.startsWith(`${server.url}/.stream`))).toBe(true)
  } finally {
    await site?.close()
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
