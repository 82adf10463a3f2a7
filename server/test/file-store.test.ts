// The durable store in one process: what survives a close and a reopen, a
// damaged log, a second server on the directory, compaction under writes,
// and streams that resume across a restart. Crashes by signal are in
// durability.test.ts.

import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Change, DataDirError, type FileStore, fileStore, serve } from '../src/index.js'
import { waitFor } from '@atomkv/test-support'
import { capturingLogger, set, SSEClient } from './helpers.js'

let dir: string
const open: FileStore[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'atomkv-data-'))
})

afterEach(async () => {
  vi.useRealTimers()
  for (const store of open.splice(0)) await store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function openStore(path = dir, options: Parameters<typeof fileStore>[1] = {}): Promise<FileStore> {
  const store = await fileStore(path, { logger: false, ...options })
  open.push(store)
  return store
}

async function closeStore(store: FileStore): Promise<void> {
  open.splice(open.indexOf(store), 1)
  await store.close()
}

/** A copy of the directory as a crash would leave it (the store stays open: nothing compacts). */
function crashCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'atomkv-crash-'))
  cpSync(dir, copy, { recursive: true })
  rmSync(join(copy, 'LOCK'))
  return copy
}

const logFile = (path: string) => join(path, readdirSync(path).filter((n) => n.startsWith('log.')).sort().at(-1)!)

describe('the file store', () => {
  it('keeps writes, deletes and revisions across a close and a reopen', async () => {
    const first = await openStore()
    await first.set('/a', '1')
    await first.set('/a', '2')
    await first.update('/b', '"b"', 0)
    await first.set('/gone', 'true')
    expect(await first.delete('/gone')).toBe('deleted')
    await closeStore(first)

    const second = await openStore()
    expect(await second.get('/a')).toEqual({ json: '2', revision: 1 })
    expect(await second.get('/b')).toEqual({ json: '"b"', revision: 0 })
    expect(await second.get('/gone')).toBeUndefined()
    expect(second.entries().map((w) => w.key)).toEqual(['/a', '/b'])
    // Compare-and-swap is judged against the kept revisions.
    expect(await second.update('/a', '3', 1)).toBeUndefined()
    expect(await second.update('/a', '3', 2)).toEqual({ json: '3', revision: 2 })
  })

  it('keeps when each key was written: expiry continues where it was', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.now()
    const first = await openStore(dir, { expireAfterMs: 0 })
    await first.set('/old', '1')
    vi.setSystemTime(start + 1000)
    await first.set('/young', '2')
    await closeStore(first)

    vi.setSystemTime(start + 1500)
    const second = await openStore(dir, { expireAfterMs: 1200 })
    expect(await second.get('/old')).toBeUndefined() // written 1500 ms ago
    expect(await second.get('/young')).toEqual({ json: '2', revision: 0 }) // 500 ms ago
    vi.setSystemTime(start + 2200)
    expect(await second.get('/young')).toBeUndefined()
  })

  it('tells listeners each change once it is written, in order, and answers after', async () => {
    const store = await openStore()
    const told: string[] = []
    store.subscribe(({ key, revision }) => told.push(`${key}:${revision}`))
    const writes = [store.set('/k', '1'), store.set('/k', '2'), store.delete('/k'), store.set('/k', '3')]
    expect(told).toEqual([]) // nothing is told before it is on disk
    await Promise.all(writes)
    expect(told).toEqual(['/k:0', '/k:1', '/k:-1', '/k:0'])
    expect(readFileSync(logFile(dir), 'utf8').split('\n').filter(Boolean)).toHaveLength(5) // a header, four records
  })

  it('refuses a directory another running server holds', async () => {
    await openStore()
    await expect(fileStore(dir, { logger: false })).rejects.toThrow(DataDirError)
    await expect(fileStore(dir, { logger: false })).rejects.toThrow(/in use by another running server/)
  })

  it('takes over a directory whose server died without closing, saying so', async () => {
    const store = await openStore()
    await store.set('/k', '1')
    const copy = crashCopy()
    writeFileSync(join(copy, 'LOCK'), `999999999@${(await import('node:os')).hostname()}`) // a pid nobody has
    const logger = capturingLogger()
    const recovered = await openStore(copy, { logger })
    expect(await recovered.get('/k')).toEqual({ json: '1', revision: 0 })
    expect(logger.warnings.join('\n')).toMatch(/was not closed cleanly/)
  })

  describe('a damaged log', () => {
    async function written(): Promise<string> {
      const store = await openStore()
      for (const key of ['/a', '/b', '/c']) await store.set(key, `"${key}"`)
      return crashCopy()
    }

    it('drops a last record cut short, keeps the rest, and says so', async () => {
      const copy = await written()
      appendFileSync(logFile(copy), '1234abcd\tw\t4\t/d\t0\t17') // torn mid-write: no newline
      const logger = capturingLogger()
      const store = await openStore(copy, { logger })
      expect(store.entries().map((w) => w.key)).toEqual(['/a', '/b', '/c'])
      expect(logger.warnings.join('\n')).toMatch(/line 5 is damaged \(an unfinished last line\); keeping the 3 records before it/)
      // The log is cut back to its valid part, so the next write follows on cleanly.
      await store.set('/d', '"d"')
      await closeStore(store)
      expect((await openStore(copy)).entries().map((w) => w.key)).toEqual(['/a', '/b', '/c', '/d'])
    })

    it('drops a last record whose checksum is wrong', async () => {
      const copy = await written()
      const path = logFile(copy)
      writeFileSync(path, readFileSync(path, 'utf8').replace('"/c"', '"/X"'))
      const logger = capturingLogger()
      const store = await openStore(copy, { logger })
      expect(store.entries().map((w) => w.key)).toEqual(['/a', '/b'])
      expect(logger.warnings.join('\n')).toMatch(/checksum mismatch/)
    })

    it('refuses to start on a damaged record with records after it', async () => {
      const copy = await written()
      const path = logFile(copy)
      const before = readFileSync(path, 'utf8')
      writeFileSync(path, before.replace('"/a"', '"/X"'))
      await expect(fileStore(copy, { logger: false })).rejects.toThrow(/line 2 is damaged \(checksum mismatch\), and records follow it/)
      expect(readFileSync(path, 'utf8')).toBe(before.replace('"/a"', '"/X"')) // left as it was
      await expect(fileStore(copy, { logger: false })).rejects.toThrow(DataDirError) // and the lock was let go
    })

    it('refuses a snapshot cut short', async () => {
      const store = await openStore()
      await store.set('/a', '1')
      await closeStore(store)
      const path = join(dir, 'snapshot')
      writeFileSync(path, readFileSync(path, 'utf8').split('\n').slice(0, 2).join('\n') + '\n')
      await expect(fileStore(dir, { logger: false })).rejects.toThrow(/cut short or damaged at its end/)
    })
  })

  it('compacts during a write burst: no write lost, none twice, and the old logs go', async () => {
    const store = await openStore(dir, { compactAfterBytes: 4096 })
    const told: Change[] = []
    store.subscribe((change) => told.push(change))
    const keys = Array.from({ length: 20 }, (_, i) => `/burst/${i}`)
    const writes: Promise<unknown>[] = []
    for (let round = 0; round < 50; round++) {
      for (const key of keys) writes.push(store.set(key, JSON.stringify({ round, pad: 'x'.repeat(40) })))
      if (round % 10 === 0) await Promise.all(writes) // let some groups and compactions happen in between
    }
    await Promise.all(writes)
    for (const key of keys) {
      expect(told.filter((c) => c.key === key).map((c) => c.revision)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    }
    await waitFor(() => readdirSync(dir).filter((n) => n.startsWith('log.')).length <= 2, 'old logs to be removed')
    expect(readdirSync(dir)).toContain('snapshot')
    await closeStore(store)
    const again = await openStore()
    for (const key of keys) expect(await again.get(key)).toMatchObject({ revision: 49, json: expect.stringContaining('"round":49') })
  })
})

describe('streams across a restart of a durable server', () => {
  it('resume with the missed events, not a reset', async () => {
    const data = join(dir, 'data')
    const first = await serve({ port: 0, data, logger: false })
    const url = first.url
    const stream = await SSEClient.open(`${url}/r/`)
    const instance = stream.response.headers.get('x-atomkv-instance')!
    for (let i = 0; i < 5; i++) await set(url, `/r/${i % 2}`, i)
    await set(url, '/r/0', null)
    await fetch(`${url}/r/1`, { method: 'DELETE' })
    await stream.waitForEvents(7)
    const seen = stream.events.length
    const lastId = stream.events[4]!.id! // resume from the middle: the rest must come again
    await first.close() // compacts: the events are then in the snapshot's history

    const second = await serve({ port: first.port, data, logger: false })
    try {
      await set(second.url, '/r/after', 'restart')
      const resumed = await SSEClient.open(`${second.url}/r/?instance=${instance}`, { 'last-event-id': lastId })
      expect(resumed.response.headers.get('x-atomkv-instance')).toBe(instance)
      await resumed.waitForEvents(seen - 5 + 1)
      expect(resumed.events.map((e) => e.event ?? e.id)).toEqual([...stream.events.slice(5).map((e) => e.id), '/r/after:0'])
    } finally {
      await second.close()
    }
  })
})
