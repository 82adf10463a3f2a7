// The SvelteKit example (demo/sveltekit) as it runs in production: its
// adapter-node build (`node build`) against a standalone `atomkv`, each on a
// free port. The page's server load reads the counter, so the server's HTML
// already shows it; the browser hydrates with those values, reads nothing
// again (its stream only), and is live from there.
//
// It uses demo/sveltekit/build as built (`pnpm test` builds it in its
// `examples` step), and builds it only when missing: after changing the app or
// the packages, rebuild it with `pnpm --filter @atomkv/example-sveltekit build`.

import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test, type Request } from '@playwright/test'
import { startProcess, type Started } from '@atomkv/test-support/process'
import { freePort, getKey, setKey, startStandalone } from './helpers.js'

const app = fileURLToPath(new URL('../../demo/sveltekit/', import.meta.url))
const KEY = '/sveltekit/counter'

function ensureBuilt(): void {
  if (existsSync(`${app}build/index.js`)) return
  const built = spawnSync('pnpm', ['--filter', '@atomkv/example-sveltekit', 'build'], { cwd: app, stdio: 'inherit' })
  if (built.status !== 0) throw new Error(`building demo/sveltekit failed (${built.status ?? built.signal})`)
}

async function stop(started: Started | undefined): Promise<void> {
  const child = started?.child
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

test('the built SvelteKit app renders the value on the server, then is live without reading it again', async ({
  page,
}) => {
  test.setTimeout(180_000) // a build, if there is none yet, on two loaded cores
  ensureBuilt()
  const kv = await startStandalone()
  let server: Started | undefined
  try {
    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    server = await startProcess(['build'], /Listening on/, {
      cwd: app,
      // No ATOMKV_PUBLIC_URL from the shell: browsers use ATOMKV_URL too. SHUTDOWN_TIMEOUT: at
      // the end, a browser's idle keep-alive connection does not hold the server for 30 s.
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        ORIGIN: origin,
        ATOMKV_URL: kv.url,
        ATOMKV_PUBLIC_URL: undefined,
        SHUTDOWN_TIMEOUT: '1',
      },
      timeoutMs: 60_000,
    })
    await setKey(kv.url, KEY, 41)

    // The server's HTML: the value, no loading state.
    const html = await (await fetch(origin)).text()
    expect(html).toMatch(/<button data-testid="counter"[^>]*>\s*41\s*<\/button>/)
    expect(html).not.toContain('loading…')

    const requests: Request[] = []
    page.on('request', (request) => {
      if (request.url().startsWith(kv.url)) requests.push(request)
    })
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })

    // Every text the counter shows, from the server's HTML on: hydration must never show a loading state.
    await page.addInitScript(() => {
      const seen: string[] = []
      Object.assign(window, { counterTexts: seen })
      const record = () => {
        const text = document.querySelector('[data-testid="counter"]')?.textContent?.trim()
        if (text !== undefined && text !== seen.at(-1)) seen.push(text)
      }
      new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true })
    })
    await page.goto(origin)
    await expect(page.getByTestId('counter')).toHaveText('41')
    await expect(page.getByTestId('connection')).toHaveText('open', { timeout: 15_000 })
    expect(await page.evaluate(() => (window as unknown as { counterTexts: string[] }).counterTexts)).toEqual(['41'])
    // The browser hydrated the load's values: to the service it opened its stream, and read nothing.
    const sent = () => requests.map((request) => `${request.method()} ${new URL(request.url()).pathname}`)
    expect(sent()).toEqual(['GET /.stream'])

    // A write from elsewhere shows, live.
    await setKey(kv.url, KEY, 100)
    await expect(page.getByTestId('counter')).toHaveText('100', { timeout: 15_000 })

    // A click is one compare-and-swap from the revision the cache holds (41 was 0, 100 is 1): no read first.
    await page.getByTestId('counter').click()
    await expect.poll(() => getKey(kv.url, KEY), { timeout: 15_000 }).toBe(101)
    await expect(page.getByTestId('counter')).toHaveText('101')
    expect(sent()).toEqual(['GET /.stream', `PUT ${KEY}`])
    expect(await requests[1]!.headerValue('x-revision')).toBe('2')
    expect(errors).toEqual([])
  } finally {
    await page.close()
    await stop(server)
    await kv.stop()
  }
})
