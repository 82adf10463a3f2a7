// Crashes for real: the standalone server and a Vite dev server with
// `persist`, each a child process killed by SIGKILL in the middle of a burst
// of writes, then started again on the same data directory.

import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { FSYNC_POLICIES } from '../src/index.js'
import { waitFor } from '@atomkv/test-support'
import { startProcess } from '@atomkv/test-support/process'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const plugin = fileURLToPath(new URL('../dist/vite.js', import.meta.url))
const viteBin = fileURLToPath(new URL('../node_modules/vite/bin/vite.js', import.meta.url))

const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** Starts a process and resolves once its output says `ready` (it listens). */
async function start(args: string[], ready: RegExp, cwd?: string): Promise<ChildProcess> {
  const { child } = await startProcess(args, ready, { cwd })
  children.push(child)
  return child
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await once(child, 'exit')
  }
}

interface Acknowledged {
  /** Unique keys answered 200, each written once: key → value. */
  keys: Map<string, number>
  /** The highest revision `/count` was answered with. */
  count: number
}

/**
 * Four writers, each writing keys of its own once and bumping `/count`, until
 * the server dies under them. Returns what was answered 200; a write that got
 * no answer may or may not have happened.
 */
async function burst(base: string, killAfterMs: number, child: ChildProcess): Promise<Acknowledged> {
  const acked: Acknowledged = { keys: new Map(), count: -1 }
  const round = Math.random().toString(36).slice(2, 8)
  let dead = false
  const writer = async (w: number) => {
    for (let i = 0; !dead; i++) {
      try {
        const key = `/w/${round}/${w}/${i}`
        const value = w * 1_000_000 + i
        const one = await fetch(base + key, { method: 'POST', body: String(value) })
        if (one.status === 200) acked.keys.set(key, value)
        const count = await fetch(base + '/count', { method: 'POST', body: String(value) })
        if (count.status === 200) acked.count = Math.max(acked.count, Number(count.headers.get('x-revision')))
      } catch {
        // The server is gone (or a pooled connection to an earlier one failed): until the kill, try on.
      }
    }
  }
  const writers = Promise.all([0, 1, 2, 3].map(writer))
  // Killed while writes are in flight: some answered, then a random moment later.
  await waitFor(() => acked.keys.size >= 20, 'the first writes to be answered', 20_000)
  await new Promise((resolve) => setTimeout(resolve, killAfterMs))
  await kill(child)
  dead = true
  await writers
  return acked
}

/** Everything answered 200 is there with its revision; nothing half-written is. */
async function check(base: string, acked: Acknowledged): Promise<void> {
  expect(acked.keys.size).toBeGreaterThan(0) // the burst did write before the kill
  for (const [key, value] of acked.keys) {
    const response = await fetch(base + key)
    expect(response.status, key).toBe(200)
    expect(await response.json()).toBe(value)
    expect(response.headers.get('x-revision')).toBe('0')
  }
  const count = await fetch(base + '/count')
  const revision = Number(count.headers.get('x-revision'))
  expect(revision).toBeGreaterThanOrEqual(acked.count) // never backwards
  // A write the server took but did not answer may be there too, whole: the next one follows on.
  const next = await fetch(base + '/count', { method: 'POST', body: '0' })
  expect(Number(next.headers.get('x-revision'))).toBe(revision + 1)
}

describe('a durable standalone server killed by SIGKILL mid-burst', () => {
  it.each(FSYNC_POLICIES)('with --fsync %s loses nothing it answered, twice over', async (fsync) => {
    const data = mkdtempSync(join(tmpdir(), 'atomkv-kill-'))
    dirs.push(data)
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const args = [cli, '--addr', `127.0.0.1:${port}`, '--data', data, '--fsync', fsync]
    let all: Acknowledged = { keys: new Map(), count: -1 }
    for (const killAfterMs of [Math.random() * 200, Math.random() * 200]) {
      const child = await start(args, /listening on/)
      const acked = await burst(base, killAfterMs, child)
      all = { keys: new Map([...all.keys, ...acked.keys]), count: Math.max(all.count, acked.count) }
      const again = await start(args, /listening on/)
      await check(base, all)
      await kill(again)
    }
  })
})

describe('the Vite plugin with persist, its dev server killed by SIGKILL mid-burst', () => {
  it('loses nothing it answered', async () => {
    const root = mkdtempSync(join(tmpdir(), 'atomkv-vite-kill-'))
    dirs.push(root)
    writeFileSync(
      join(root, 'vite.config.mjs'),
      `import { atomkv } from ${JSON.stringify(plugin)}\nexport default { plugins: [atomkv({ persist: true, logger: false })] }\n`,
    )
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>kill</title>')
    const port = await freePort()
    const base = `http://127.0.0.1:${port}/__atomkv`
    const args = [viteBin, '--host', '127.0.0.1', '--port', String(port), '--strictPort']
    const child = await start(args, /AtomKV:/, root)
    const acked = await burst(base, Math.random() * 200, child)
    await start(args, /AtomKV:/, root)
    await check(base, acked)
  })
})
