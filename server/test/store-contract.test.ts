// The Store contract (store.ts), one suite run against every store: memory,
// the durable file store and Redis. The HTTP layer and the hub rely on exactly
// this, so a store that passes here can stand behind the service.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '@atomkv/test-support'
import { type Change, fileStore, MemoryStore, redisStore, type Store, StoreFullError } from '../src/index.js'
import { startRedis, type TestRedis } from './redis-server.js'

interface StoreOptions {
  maxKeys?: number
  expireAfterMs?: number
}

let redis: Promise<TestRedis> | undefined
let stores = 0
const dirs: string[] = []
const open: Store[] = []

afterEach(async () => {
  for (const store of open.splice(0)) await store.close?.()
})
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const kinds: [string, (options: StoreOptions) => Promise<Store>][] = [
  ['memory', async (options) => new MemoryStore({ expireAfterMs: 0, ...options })],
  [
    'file',
    async (options) => {
      const dir = mkdtempSync(join(tmpdir(), 'atomkv-contract-'))
      dirs.push(dir)
      return fileStore(dir, { logger: false, ...options })
    },
  ],
  [
    'redis',
    async (options) => {
      redis ??= startRedis()
      // A prefix of its own per store: one Redis serves every test.
      return redisStore((await redis).url, { logger: false, prefix: `contract${++stores}`, ...options })
    },
  ],
]

describe.each(kinds)('the %s store', (_kind, make) => {
  async function storeWith(options: StoreOptions = {}): Promise<Store> {
    const store = await make(options)
    open.push(store)
    return store
  }

  /** Every change told, as `<key>:<revision>`, and the changes themselves. */
  function listen(store: Store): { ids: string[]; changes: Change[] } {
    const told = { ids: [] as string[], changes: [] as Change[] }
    store.subscribe((change) => {
      told.ids.push(`${change.key}:${change.revision}`)
      told.changes.push(change)
    })
    return told
  }

  it('starts a key at revision 0 and adds one at each force-set', async () => {
    const store = await storeWith()
    expect(await store.get('/a')).toBeUndefined()
    expect(await store.set('/a', '"x"')).toEqual({ json: '"x"', revision: 0 })
    expect(await store.set('/a', '{"y":[1,2]}')).toEqual({ json: '{"y":[1,2]}', revision: 1 })
    expect(await store.get('/a')).toEqual({ json: '{"y":[1,2]}', revision: 1 })
    expect(await store.set('/a/b', 'null')).toEqual({ json: 'null', revision: 0 })
    expect(store.size()).toBe(2)
  })

  it('compare-and-swaps only at the next revision (0 for a missing key)', async () => {
    const store = await storeWith()
    expect(await store.update('/k', '1', 1)).toBeUndefined()
    expect(await store.update('/k', '1', -1)).toBeUndefined()
    expect(await store.update('/k', '1', 0)).toEqual({ json: '1', revision: 0 })
    expect(await store.update('/k', '2', 0)).toBeUndefined()
    expect(await store.update('/k', '2', 2)).toBeUndefined()
    expect(await store.update('/k', '2', 1)).toEqual({ json: '2', revision: 1 })
    expect(await store.get('/k')).toEqual({ json: '2', revision: 1 })
  })

  it('lets exactly one of many racing compare-and-swaps win', async () => {
    const store = await storeWith()
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.update('/race', String(i), 0)))
    expect(results.filter(Boolean)).toHaveLength(1)
    const winner = results.find(Boolean)!
    expect(await store.get('/race')).toEqual(winner)
  })

  it('deletes, with an optional revision, and starts the key over at 0', async () => {
    const store = await storeWith()
    expect(await store.delete('/d')).toBe('missing')
    await store.set('/d', '1')
    await store.set('/d', '2')
    expect(await store.delete('/d', 0)).toBe('conflict')
    expect(await store.delete('/d', 2)).toBe('conflict')
    expect(await store.get('/d')).toEqual({ json: '2', revision: 1 })
    expect(await store.delete('/d', 1)).toBe('deleted')
    expect(await store.get('/d')).toBeUndefined()
    expect(await store.delete('/d')).toBe('missing')
    expect(await store.update('/d', '3', 2)).toBeUndefined()
    expect(await store.set('/d', '3')).toEqual({ json: '3', revision: 0 })
    expect(await store.delete('/d')).toBe('deleted')
    expect(store.size()).toBe(0)
  })

  it('tells listeners every change in commit order, before its promise resolves', async () => {
    const store = await storeWith()
    const told = listen(store)
    // How many changes were told when each write resolved: at least up to its own.
    const seenAtResolve: number[] = []
    const writes: (() => Promise<unknown>)[] = [
      () => store.set('/t', '1'),
      () => store.set('/t', '2'),
      () => store.update('/t', '3', 2),
      () => store.delete('/t'),
      () => store.set('/t', '4'),
    ]
    await Promise.all(writes.map((write, i) => write().then(() => (seenAtResolve[i] = told.ids.length))))
    expect(told.ids).toEqual(['/t:0', '/t:1', '/t:2', '/t:-1', '/t:0'])
    seenAtResolve.forEach((seen, i) => expect(seen).toBeGreaterThanOrEqual(i + 1))
    const [first, , , removal] = told.changes
    expect(first).toMatchObject({ key: '/t', json: '1', revision: 0 })
    expect(first!.writtenAt).toBeGreaterThan(Date.now() - 60_000)
    expect(removal).toMatchObject({ key: '/t', json: 'null', revision: -1, removedRevision: 2 })
  })

  it('tells nothing for a conflict or a missing delete', async () => {
    const store = await storeWith()
    const told = listen(store)
    await store.set('/n', '1')
    await store.update('/n', '2', 5)
    await store.delete('/n', 7)
    await store.delete('/none')
    await store.set('/n', '3') // a change after them: everything before it has been told
    expect(told.ids).toEqual(['/n:0', '/n:1'])
  })

  it('lists keys and prefixes oldest write first, each key once, with the exact keys under each prefix', async () => {
    const store = await storeWith()
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
    const keys = async (subscriptions: string[]) => (await store.list(subscriptions)).map((w) => w.key)
    expect(await keys(['/p/a/'])).toEqual(['/p/a/b'])
    expect(await keys(['/p/x/', '/nothing/', '/missing'])).toEqual([])
    expect(await keys(['/p/a/', '/p/', '/pq', '/p/b', '/p/c/d/'])).toEqual(['/pq', '/p/a/b', '/p/b', '/p/c/d/e', '/p/a'])
    expect(await keys(['/pq', '/p', '/pq'])).toEqual(['/pq', '/p'])
    // Deleted keys leave the index; a prefix emptied of keys lists nothing.
    await store.delete('/p/c/d/e')
    await store.delete('/p/a/b')
    expect(await keys(['/p/'])).toEqual(['/p/b', '/p/a'])
    expect(await keys(['/p/c/'])).toEqual([])
    await store.set('/p/c/x', '1')
    expect(await keys(['/p/c/', '/p/a/'])).toEqual(['/p/c/x'])
  })

  it('never lists a value before telling its change', async () => {
    const store = await storeWith()
    const told = new Set<string>()
    store.subscribe(({ key, revision }) => told.add(`${key}:${revision}`))
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) writes.push(store.set(`/l/${i % 7}`, String(i)))
    const lists: Promise<void>[] = []
    for (let i = 0; i < 10; i++) {
      lists.push(
        store.list(['/l/']).then((entries) => {
          for (const { key, revision } of entries) expect(told.has(`${key}:${revision}`), `${key}:${revision}`).toBe(true)
        }),
      )
    }
    await Promise.all([...writes, ...lists])
  })

  it('refuses a new key past maxKeys, still takes writes of stored keys', async () => {
    const store = await storeWith({ maxKeys: 2 })
    await store.set('/m/1', '1')
    await store.set('/m/2', '2')
    await expect(store.set('/m/3', '3')).rejects.toThrow(StoreFullError)
    await expect(store.update('/m/3', '3', 0)).rejects.toThrow(StoreFullError)
    expect(await store.set('/m/1', '11')).toEqual({ json: '11', revision: 1 })
    expect(await store.update('/m/2', '22', 1)).toEqual({ json: '22', revision: 1 })
    await store.delete('/m/1')
    expect(await store.set('/m/3', '3')).toEqual({ json: '3', revision: 0 })
    expect(store.size()).toBe(2)
  })

  it('expires keys not written for expireAfterMs, telling the removal', async () => {
    const store = await storeWith({ expireAfterMs: 300 })
    const told = listen(store)
    await store.set('/e/old', '1')
    await new Promise((resolve) => setTimeout(resolve, 150))
    await store.set('/e/young', '2')
    await waitFor(async () => (await store.get('/e/old')) === undefined, '/e/old to expire', 5000)
    await waitFor(() => told.ids.includes('/e/old:-1'), 'the expiry of /e/old to be told', 5000)
    expect(told.changes.find((c) => c.revision === -1)).toMatchObject({ key: '/e/old', removedRevision: 0 })
    // An expired key is missing: its next write starts over.
    await waitFor(async () => (await store.list(['/e/'])).length === 0, '/e/young to expire too', 5000)
    expect(await store.update('/e/old', '3', 0)).toEqual({ json: '3', revision: 0 })
  })
})
