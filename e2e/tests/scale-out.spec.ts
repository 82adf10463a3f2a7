// Two standalone servers on one Redis (issue 17) behind a round-robin proxy
// written for this test: two pages, whose streams land on different servers,
// stay in sync.

import { expect, test } from '@playwright/test'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, getKey, servePage, startStandalone } from './helpers.js'

/** Debian's redis-server (`.ci/run` installs it) on a free port, keeping nothing on disk. */
async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-e2e-redis-'))
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'])
  let output = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      if (/Ready to accept connections/.test(output)) resolve()
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A round-robin HTTP proxy: event streams take turns over the upstreams, and
 * other requests take their own turns, so two pages' streams land on two
 * servers. Bodies are piped both ways (streams unbuffered).
 */
async function roundRobin(upstreams: readonly string[]) {
  let streams = 0
  let others = 0
  const streamPorts: number[] = []
  const server = createServer((req, res) => {
    const isStream = req.url!.startsWith('/.stream') || (req.headers.accept ?? '').includes('text/event-stream')
    const target = new URL(upstreams[(isStream ? streams++ : others++) % upstreams.length]!)
    if (isStream) streamPorts.push(Number(target.port))
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    streamPorts,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/** The original client API from the proxy: a page that logs what it sees of /so/ and writes on demand. */
const page = (proxy: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>scale-out</title>
<script src="${proxy}/"></script>
<script>
window.seen = []
;(async () => {
  for await (const [key, value, rev] of AtomKV.subscribe('/so/')) window.seen.push([key, value, rev])
})()
window.write = async (name, n) => {
  for (let i = 0; i < n; i++) await AtomKV.set('/so/' + name, i)
}
window.increment = async (n) => {
  for (let i = 0; i < n; i++) {
    for (;;) {
      const [value, rev] = await AtomKV.get('/so/counter')
      if (await AtomKV.update('/so/counter', (value ?? 0) + 1, rev + 1)) break
    }
  }
}
</script>
</head><body>scale-out page</body></html>`

test('two pages on two servers sharing one Redis, behind a round-robin proxy, stay in sync', async ({ browser }) => {
  const redis = await startRedis()
  const a = await startStandalone(undefined, ['--redis', redis.url, '--max-streams-per-client', '0'])
  const b = await startStandalone(undefined, ['--redis', redis.url, '--max-streams-per-client', '0'])
  const proxy = await roundRobin([a.url, b.url])
  const site = await servePage(page(proxy.url))
  try {
    // Two contexts: two browsers as far as the pages know (nothing shared between tabs).
    const one = await (await browser.newContext()).newPage()
    const two = await (await browser.newContext()).newPage()
    await one.goto(site.url)
    await one.waitForFunction(() => (window as any).AtomKV.status === 'open')
    await two.goto(site.url)
    await two.waitForFunction(() => (window as any).AtomKV.status === 'open')
    // One page's stream on each server.
    expect(new Set(proxy.streamPorts.slice(0, 2))).toEqual(new Set([a.port, b.port]))

    // Both write at once (each write through the proxy, so over both servers); each sees the other's, in order.
    await Promise.all([one.evaluate(() => (window as any).write('one', 10)), two.evaluate(() => (window as any).write('two', 10))])
    for (const [viewer, other] of [
      [one, '/so/two'],
      [two, '/so/one'],
    ] as const) {
      await expect
        .poll(() => viewer.evaluate((key) => (window as any).seen.filter(([k]: [string]) => k === key).length, other))
        .toBe(10)
      const seen = await viewer.evaluate((key) => (window as any).seen.filter(([k]: [string]) => k === key), other)
      expect(seen.map(([, value, rev]: [string, number, number]) => [value, rev])).toEqual(Array.from({ length: 10 }, (_, i) => [i, i]))
    }

    // Compare-and-swap from both pages across both servers: every increment counted once.
    await Promise.all([one.evaluate(() => (window as any).increment(15)), two.evaluate(() => (window as any).increment(15))])
    expect(await getKey(a.url, '/so/counter')).toBe(30)
    expect(await getKey(b.url, '/so/counter')).toBe(30)
    for (const viewer of [one, two]) {
      await expect.poll(() => viewer.evaluate(() => (window as any).seen.filter(([k]: [string]) => k === '/so/counter').at(-1)?.[1])).toBe(30)
    }
  } finally {
    await site.close()
    await proxy.close()
    await a.stop()
    await b.stop()
    await redis.stop()
  }
})
