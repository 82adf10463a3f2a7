// The Next.js App Router example (demo/next), built, run as in production
// (`next start`) against a standalone `atomkv` on another port: the server
// component reads the key, the HTML already holds its value, the browser
// reads nothing again and then shows every change live.

import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { expect, test } from '@playwright/test'
import { startProcess } from '@atomkv/test-support/process'
import { freePort, getKey, setKey, startStandalone } from './helpers.js'

const app = fileURLToPath(new URL('../../demo/next/', import.meta.url))
const next = `${app}node_modules/next/dist/bin/next`
const KEY = '/next/counter'

/** `next start` of the built example on a free port, reading the service at `kv`. */
async function startApp(port: number, kv: string) {
  if (!existsSync(`${app}.next/BUILD_ID`)) {
    throw new Error('demo/next is not built: run `pnpm --filter @atomkv/example-next build` first')
  }
  const { child, output } = await startProcess([next, 'start', '-H', '127.0.0.1', '-p', String(port)], /Ready in/, {
    cwd: app,
    env: { ATOMKV_URL: kv, ATOMKV_PUBLIC_URL: undefined, NEXT_TELEMETRY_DISABLED: '1' },
    timeoutMs: 60_000,
  })
  return {
    url: `http://127.0.0.1:${port}/`,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}

test('the Next.js example renders the real value on the server, then goes live', async ({ page }) => {
  test.setTimeout(90_000) // two servers to start on two loaded cores
  const appPort = await freePort()
  // As in production: only the app's origin may call the service.
  const server = await startStandalone(undefined, ['--cors-origin', `http://127.0.0.1:${appPort}`])
  let site: Awaited<ReturnType<typeof startApp>> | undefined
  try {
    site = await startApp(appPort, server.url)
    await setKey(server.url, KEY, 41)

    // The server's HTML already holds the value: no loading state to hydrate.
    const html = await (await fetch(site.url)).text()
    const main = /<main>.*?<\/main>/s.exec(html)?.[0]
    expect(main).toContain('<output id="counter">41</output>')
    expect(main).not.toContain('loading')

    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      // The app has no icon: the browser's own favicon.ico request is its one 404.
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) errors.push(message.text())
    })
    const requests: string[] = []
    page.on('request', (request) => {
      if (request.url().startsWith(server.url)) requests.push(`${request.method()} ${request.url().slice(server.url.length)}`)
    })
    await page.goto(site.url)
    await expect(page.locator('#counter')).toHaveText('41')
    // Hydrated: the stream is open (only an effect in the browser opens it).
    await expect(page.locator('#stream')).toHaveText('open', { timeout: 15_000 })
    // The browser did not read the key again: its one request is the stream.
    expect(requests.filter((request) => !request.startsWith('GET /.stream'))).toEqual([])
    expect(requests.length).toBeGreaterThan(0)

    // A write from elsewhere shows live.
    await setKey(server.url, KEY, 100)
    await expect(page.locator('#counter')).toHaveText('100', { timeout: 15_000 })

    // The button is a compare-and-swap (PUT with the next revision), with no read first.
    await page.locator('#add').click()
    await expect.poll(() => getKey(server.url, KEY), { timeout: 15_000 }).toBe(101)
    await expect(page.locator('#counter')).toHaveText('101')
    expect(requests.filter((request) => !request.startsWith('GET /.stream'))).toEqual([`PUT ${KEY}`])

    // A hydration mismatch would say so here.
    expect(errors).toEqual([])
  } catch (error) {
    if (site) console.error(`next start said:\n${site.output()}`)
    throw error
  } finally {
    await site?.stop()
    await server.stop()
  }
})
