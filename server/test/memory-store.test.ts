// MemoryStore's reads: what a snapshot holds and in what order, and expiry as
// reads see it. Expiry runs on a fake clock (only Date is faked: the store's
// background sweep stays on a real timer of at least a second, so it never
// runs during these tests and reads are on their own).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { covers } from '@atomkv/client'
import { MemoryStore } from '../src/memory-store.js'
import { coveringPaths } from '@atomkv/client/protocol'
import { type Change, StoreFullError, type Write } from '../src/store.js'
import { waitFor } from '@atomkv/test-support'

const keysOf = (writes: readonly Write[]) => writes.map((w) => w.key)

describe('MemoryStore.list', () => {
  it('lists key-only subscriptions on a large store oldest write first', async () => {
    const store = new MemoryStore()
    for (let i = 0; i < 1000; i++) await store.set(`/k${i}`, String(i))
    // Written last in this order: oldest k7, then k2, newest k5.
    await store.set('/k7', '"seven"')
    await store.set('/k2', '"two"')
    await store.set('/k5', '"five"')
    // Asked in an order that is neither the write order, its reverse, nor key order.
    const found = await store.list(['/k5', '/missing', '/k7', '/k2'])
    expect(found).toEqual([
      { key: '/k7', json: '"seven"', revision: 1 },
      { key: '/k2', json: '"two"', revision: 1 },
      { key: '/k5', json: '"five"', revision: 1 },
    ])
    // A key asked twice comes once.
    expect(keysOf(await store.list(['/k2', '/k900', '/k2']))).toEqual(['/k900', '/k2'])
    store.close()
  })

  it('lists a prefix oldest write first, with exactly the keys under it', async () => {
    const store = new MemoryStore()
    for (let i = 0; i < 1000; i++) await store.set(`/bench/g${i % 10}/k${i}`, String(i))
    for (const key of ['/p/a', '/pq', '/p', '/p/a/b', '/q/p/a', '/p/b', '/pq/a', '/p/c/d/e', '/pa/b']) {
      await store.set(key, JSON.stringify(key))
    }
    await store.set('/p/a', '"again"')
    expect(await store.list(['/p/'])).toEqual([
      { key: '/p/a/b', json: '"/p/a/b"', revision: 0 },
      { key: '/p/b', json: '"/p/b"', revision: 0 },
      { key: '/p/c/d/e', json: '"/p/c/d/e"', revision: 0 },
      { key: '/p/a', json: '"again"', revision: 1 },
    ])
    expect(keysOf(await store.list(['/p/a/']))).toEqual(['/p/a/b'])
    expect(keysOf(await store.list(['/p/c/']))).toEqual(['/p/c/d/e'])
    expect(await store.list(['/p/x/'])).toEqual([])
    expect(await store.list(['/nothing/'])).toEqual([])
    // Overlapping subscriptions: each key once, still oldest first.
    expect(keysOf(await store.list(['/p/a/', '/p/', '/pq', '/p/b', '/p/c/d/', '/bench/g3/k3']))).toEqual([
      '/bench/g3/k3',
      '/pq',
      '/p/a/b',
      '/p/b',
      '/p/c/d/e',
      '/p/a',
    ])
    // A large part of the store comes in write order too.
    const bench = await store.list(['/bench/'])
    expect(keysOf(bench)).toEqual(Array.from({ length: 1000 }, (_, i) => `/bench/g${i % 10}/k${i}`))
    store.close()
  })

  it('lists restored entries under their prefixes, in the order they were loaded', async () => {
    const store = new MemoryStore()
    await store.set('/l/mine', '0')
    store.load([
      { key: '/l/b', json: '1', revision: 4 },
      { key: '/l/a/x', json: '2', revision: 0 },
      { key: '/m/a', json: '3', revision: 2 },
    ])
    expect(await store.list(['/l/'])).toEqual([
      { key: '/l/mine', json: '0', revision: 0 },
      { key: '/l/b', json: '1', revision: 4 },
      { key: '/l/a/x', json: '2', revision: 0 },
    ])
    expect(await store.list(['/m/'])).toEqual([{ key: '/m/a', json: '3', revision: 2 }])
    store.close()
  })
})

describe('MemoryStore expiry, as reads see it', () => {
  const start = new Date('2030-01-01T00:00:00Z').getTime()
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(start)
  })
  afterEach(() => {
    vi.useRealTimers()
  })
  const at = (ms: number) => vi.setSystemTime(start + ms)

  it('ignores expired keys in get, update and list before any sweep', async () => {
    const store = new MemoryStore({ expireAfterMs: 1000 })
    for (let i = 0; i < 50; i++) await store.set(`/filler/${i}`, '0')
    await store.set('/e/old', '1')
    await store.set('/e/old', '2')
    at(500)
    await store.set('/e/young', '3')
    at(999)
    expect(await store.get('/e/old')).toEqual({ json: '2', revision: 1 })
    at(1000)
    expect(await store.get('/e/old')).toBeUndefined()
    expect(await store.get('/e/young')).toEqual({ json: '3', revision: 0 })
    expect(await store.list(['/e/'])).toEqual([{ key: '/e/young', json: '3', revision: 0 }])
    expect(await store.list(['/e/old', '/e/young'])).toEqual([{ key: '/e/young', json: '3', revision: 0 }])
    expect(await store.list(['/filler/'])).toEqual([])

    // Each read on a fresh store, so none relies on an earlier read having dropped the key.
    const fresh = async () => {
      at(0)
      const s = new MemoryStore({ expireAfterMs: 1000 })
      for (let i = 0; i < 50; i++) await s.set(`/filler/${i}`, '0')
      await s.set('/e/old', '1')
      await s.set('/e/old', '2')
      at(1000)
      return s
    }
    const forUpdate = await fresh()
    // The expired key is missing: its next revision would be 2, but only 0 is accepted.
    expect(await forUpdate.update('/e/old', '4', 2)).toBeUndefined()
    expect(await forUpdate.update('/e/old', '4', 0)).toEqual({ json: '4', revision: 0 })
    const forPrefix = await fresh()
    expect(await forPrefix.list(['/e/'])).toEqual([])
    const forKeys = await fresh()
    expect(await forKeys.list(['/e/old'])).toEqual([])
    expect(await forKeys.list(['/e/old', '/filler/1', '/filler/2'])).toEqual([])
    const forEntries = await fresh()
    expect(forEntries.entries()).toEqual([])
    for (const s of [store, forUpdate, forPrefix, forKeys, forEntries]) s.close()
  })

  for (const swept of [false, true]) {
    it(`starts a key written again after it expired at revision 0, once in its prefix (${swept ? 'swept' : 'not swept yet'})`, async () => {
      const store = new MemoryStore({ expireAfterMs: 1000 })
      await store.set('/r/a', '1')
      await store.set('/r/a', '2')
      await store.set('/r/b/c', '1')
      at(1500)
      if (swept) {
        store.sweep()
        expect(store.size()).toBe(0)
      }
      expect(await store.set('/r/a', '3')).toEqual({ json: '3', revision: 0 })
      expect(await store.update('/r/b/c', '4', 0)).toEqual({ json: '4', revision: 0 })
      expect(await store.list(['/r/'])).toEqual([
        { key: '/r/a', json: '3', revision: 0 },
        { key: '/r/b/c', json: '4', revision: 0 },
      ])
      expect(await store.list(['/r/b/', '/r/a'])).toEqual([
        { key: '/r/a', json: '3', revision: 0 },
        { key: '/r/b/c', json: '4', revision: 0 },
      ])
      expect(store.entries()).toEqual([
        { key: '/r/a', json: '3', revision: 0 },
        { key: '/r/b/c', json: '4', revision: 0 },
      ])
      store.close()
    })
  }

  it('holds no index entry for a prefix once no key is left below it', async () => {
    const store = new MemoryStore({ expireAfterMs: 1000 })
    for (const key of ['/a/b/c', '/a/d', '/x/y/z/w', '/top', '/s/1', '/s/2', '/s/3']) await store.set(key, '0')
    at(500)
    await store.set('/a/b/e', '1')
    await store.set('/s/2', '1')
    expect(store.indexedPrefixes()).toEqual(['/a/', '/a/b/', '/s/', '/x/', '/x/y/', '/x/y/z/'])
    at(1000)
    store.sweep()
    // `/a/` stays for `/a/b/e`, below it; `/s/` for `/s/2`.
    expect(store.indexedPrefixes()).toEqual(['/a/', '/a/b/', '/s/'])
    expect(await store.list(['/a/', '/s/', '/x/'])).toEqual([
      { key: '/a/b/e', json: '1', revision: 0 },
      { key: '/s/2', json: '1', revision: 1 },
    ])
    at(1500)
    // No sweep: the reads that find the keys expired drop them, and their prefixes.
    expect(await store.get('/a/b/e')).toBeUndefined()
    expect(store.indexedPrefixes()).toEqual(['/s/'])
    expect(await store.list(['/s/'])).toEqual([])
    expect(store.indexedPrefixes()).toEqual([])
    // Written again, a key brings its prefixes back, once each.
    await store.set('/a/b/c', '2')
    await store.set('/a/b/c', '3')
    expect(store.indexedPrefixes()).toEqual(['/a/', '/a/b/'])
    expect(await store.list(['/a/'])).toEqual([{ key: '/a/b/c', json: '3', revision: 1 }])
    store.close()
  })

  it('agrees with a full scan over random writes, deletes, expiry and sweeps, and tells every change', async () => {
    // A small PRNG, so a failure replays.
    let seed = 12345
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const parts = ['a', 'b', 'c']
    const randomPath = () => '/' + Array.from({ length: 1 + random(3) }, () => parts[random(3)]).join('/')
    const store = new MemoryStore({ expireAfterMs: 100, maxKeys: 1000 })
    // What the changes told say the store holds: after a sweep, exactly what it holds.
    const told = new Map<string, { json: string; revision: number }>()
    store.subscribe(({ key, json, revision, removedRevision }) => {
      if (revision === -1) {
        expect(told.get(key)?.revision, `the removal of ${key}`).toBe(removedRevision)
        told.delete(key)
      } else {
        expect(revision).toBe(told.has(key) ? told.get(key)!.revision + 1 : 0)
        told.set(key, { json, revision })
      }
    })
    let now = 0
    for (let step = 0; step < 4000; step++) {
      const op = random(23)
      if (op >= 20) {
        const key = randomPath()
        const current = await store.get(key)
        const revision = op === 20 ? undefined : op === 21 ? current?.revision : random(3)
        const expected = !current ? 'missing' : revision === undefined || revision === current.revision ? 'deleted' : 'conflict'
        expect(await store.delete(key, revision)).toBe(expected)
        expect(await store.get(key)).toEqual(expected === 'deleted' ? undefined : current)
      } else if (op < 10) await store.set(randomPath(), String(step))
      else if (op < 13) {
        const key = randomPath()
        const current = await store.get(key)
        await store.update(key, String(step), current ? current.revision + 1 : 0)
      } else if (op < 17) at((now += random(30)))
      else if (op < 18) {
        store.sweep()
        // Swept, the index holds exactly the prefixes above the keys left.
        const above = new Set(store.entries().flatMap((w) => coveringPaths(w.key).slice(1)))
        expect(store.indexedPrefixes()).toEqual([...above].sort())
        const held = new Map(store.entries().map(({ key, json, revision }) => [key, { json, revision }]))
        expect(held).toEqual(told)
        expect(store.chars()).toBe(store.entries().reduce((sum, w) => sum + w.key.length + w.json.length, 0))
      } else {
        const subscriptions = Array.from({ length: 1 + random(3) }, () => randomPath() + (random(2) ? '/' : ''))
        const expected = store.entries().filter((w) => subscriptions.some((s) => covers(s, w.key)))
        expect(await store.list(subscriptions), subscriptions.join(' ')).toEqual(expected)
      }
    }
    store.close()
  })
})

describe('MemoryStore expiry on the real clock', () => {
  // That a read sees expiry before any sweep is shown on a fake clock above; a
  // time limit here would be a wall-clock threshold, which a loaded machine breaks.
  it('reads a key as missing once expireAfterMs has passed, and starts it over at revision 0', async () => {
    const store = new MemoryStore({ expireAfterMs: 40 })
    await store.set('/t/a', '1')
    await store.set('/t/a', '2')
    await waitFor(async () => (await store.get('/t/a')) === undefined, 'the key to expire', 10_000)
    expect(await store.list(['/t/'])).toEqual([])
    // Read back, it could already have expired again on a stalled machine: the fake-clock
    // tests above read a re-created key.
    expect(await store.set('/t/a', '3')).toEqual({ json: '3', revision: 0 })
    store.close()
  })
})

describe('MemoryStore options and restore edges', () => {
  it('refuses a maxKeys below 1 or an expireAfterMs below 0, saying which and what it got', () => {
    for (const maxKeys of [0, -1, Number.NaN]) {
      expect(() => new MemoryStore({ maxKeys })).toThrow(new RangeError(`maxKeys must be at least 1, got ${maxKeys}`))
    }
    for (const expireAfterMs of [-1, Number.NaN]) {
      expect(() => new MemoryStore({ expireAfterMs })).toThrow(
        new RangeError(`expireAfterMs must be 0 or more, got ${expireAfterMs}`),
      )
    }
  })

  it('stops telling a listener once it unsubscribes, and tells the others still', async () => {
    vi.useFakeTimers()
    try {
      const store = new MemoryStore()
      const gone: string[] = []
      const kept: string[] = []
      const changes: Change[] = []
      const unsubscribe = store.subscribe((change) => gone.push(change.key))
      store.subscribe((change) => {
        kept.push(change.key)
        changes.push(change)
      })
      await store.set('/a', '1')
      unsubscribe()
      vi.advanceTimersByTime(1500)
      await store.set('/b', '1')
      expect(gone).toEqual(['/a'])
      expect(kept).toEqual(['/a', '/b'])
      // A write is told with when it was written (ms since 1970), for stores that keep it.
      expect(changes[1]!.writtenAt).toBe(Date.now())
      store.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('keeps a prefix listed when a key beside it goes, while keys below it stay', async () => {
    // The index holds /x/ → /x/a/ → /x/a/b/, /x/a/c/; removing one key must not cut the path to the others.
    for (const [gone, stays] of [
      ['/x/a/k', '/x/a/b/c'],
      ['/x/a/b/k', '/x/a/c/k'],
    ]) {
      const store = new MemoryStore()
      await store.set(gone!, '1')
      await store.set(stays!, '2')
      await store.delete(gone!)
      expect(keysOf(await store.list(['/x/'])), gone).toEqual([stays])
      expect(store.indexedPrefixes()).toEqual(coveringPaths(stays!).slice(1).sort())
      store.close()
    }
  })

  it('stops its sweep and forgets its listeners on close', async () => {
    vi.useFakeTimers()
    try {
      const store = new MemoryStore({ expireAfterMs: 50 })
      await store.set('/k', '1')
      const told: string[] = []
      store.subscribe((change) => told.push(change.key))
      store.close()
      vi.advanceTimersByTime(5000)
      await store.set('/other', '1')
      expect(told).toEqual([])
    } finally {
      vi.useRealTimers()
    }
  })

  it('holds exactly one key with maxKeys 1', async () => {
    const store = new MemoryStore({ maxKeys: 1 })
    await store.set('/only', '1')
    await store.set('/only', '2')
    await expect(store.set('/other', '1')).rejects.toThrow(StoreFullError)
    store.close()
  })

  it('makes room for a new key when full by removing expired ones first', async () => {
    vi.useFakeTimers()
    try {
      const store = new MemoryStore({ maxKeys: 1, expireAfterMs: 50 })
      await store.set('/old', '1')
      // Expired, not swept yet (the sweep runs once a second).
      vi.advanceTimersByTime(100)
      expect(await store.set('/new', '2')).toEqual({ json: '2', revision: 0 })
      expect(store.entries().map((w) => w.key)).toEqual(['/new'])
      store.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('says which entry of a restore is not a JSON string', () => {
    const store = new MemoryStore()
    const bad = { key: '/n', json: 5 as unknown as string, revision: 0 }
    expect(() => store.load([bad])).toThrow(new TypeError('cannot load /n: json must be a string'))
    store.close()
  })

  it('restores an entry written more than 24 days ago with its age, so it expires as it would have', async () => {
    // Past 2^31 ms from the store's start a write time no longer fits a small integer.
    const store = new MemoryStore({ expireAfterMs: 30 * 24 * 3600_000 })
    const day = 24 * 3600_000
    store.load([
      { key: '/old', json: '1', revision: 3, writtenAt: Date.now() - 31 * day },
      { key: '/young', json: '2', revision: 0, writtenAt: Date.now() - 29 * day },
    ])
    expect(await store.get('/old')).toBeUndefined()
    expect(await store.get('/young')).toEqual({ json: '2', revision: 0 })
    expect(store.dump().map(({ key, writtenAt }) => [key, Math.round((Date.now() - writtenAt) / day)])).toEqual([['/young', 29]])
    store.close()
  })

  it('sweeps once a second at most often and once a minute at least, whatever expireAfterMs', async () => {
    vi.useFakeTimers()
    try {
      // [expireAfterMs, when the first sweep that finds the key expired runs]
      for (const [expireAfterMs, sweptAt] of [
        [50, 1000],
        [90_000, 120_000],
      ] as const) {
        const store = new MemoryStore({ expireAfterMs })
        await store.set('/k', '1')
        const told: string[] = []
        store.subscribe((change) => told.push(`${change.key} ${change.revision}`))
        vi.advanceTimersByTime(sweptAt - 1)
        expect(told, `expireAfterMs ${expireAfterMs}`).toEqual([])
        vi.advanceTimersByTime(1)
        expect(told, `expireAfterMs ${expireAfterMs}`).toEqual(['/k -1'])
        store.close()
      }
    } finally {
      vi.useRealTimers()
    }
  })
})

