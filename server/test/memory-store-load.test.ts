// MemoryStore's snapshot and restore, which keep revisions across a restart.

import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/memory-store.js'
import { StoreFullError } from '../src/store.js'

describe('MemoryStore.entries and load', () => {
  it('restores entries with their revisions, oldest write first, without telling listeners', async () => {
    const source = new MemoryStore()
    await source.set('/a', '1')
    await source.set('/b', '"x"')
    await source.set('/a', '2')
    const saved = source.entries()
    expect(saved).toEqual([
      { key: '/b', json: '"x"', revision: 0 },
      { key: '/a', json: '2', revision: 1 },
    ])

    const restored = new MemoryStore()
    const heard: string[] = []
    restored.subscribe((write) => heard.push(write.key))
    restored.load(saved)
    expect(heard).toEqual([])
    expect(await restored.get('/a')).toEqual({ json: '2', revision: 1 })
    expect(await restored.list(['/a', '/b'])).toEqual(saved)
    // Compare-and-swap continues from the restored revision.
    expect(await restored.update('/a', '3', 1)).toBeUndefined()
    expect(await restored.update('/a', '3', 2)).toEqual({ json: '3', revision: 2 })
    expect(heard).toEqual(['/a'])
    source.close()
    restored.close()
  })

  it('refuses bad entries and stores none of the batch', async () => {
    const store = new MemoryStore({ maxKeys: 2 })
    await store.set('/taken', '0')
    const ok = { key: '/ok', json: '1', revision: 0 }
    expect(() => store.load([ok, { key: 'bad', json: '1', revision: 0 }])).toThrow(/bad/)
    expect(() => store.load([ok, { key: '/x', json: '1', revision: -1 }])).toThrow(/revision/)
    expect(() => store.load([ok, { key: '/x', json: '1', revision: 1.5 }])).toThrow(/revision/)
    expect(() => store.load([ok, { key: '/x', json: '{', revision: 0 }])).toThrow(SyntaxError)
    expect(() => store.load([ok, { key: '/taken', json: '1', revision: 5 }])).toThrow(/already stored/)
    expect(() => store.load([ok, ok])).toThrow(/already stored/)
    expect(() => store.load([ok, { key: '/y', json: '1', revision: 0 }])).toThrow(StoreFullError)
    expect(await store.get('/ok')).toBeUndefined()
    store.load([ok])
    expect(await store.get('/ok')).toEqual({ json: '1', revision: 0 })
    store.close()
  })

  it('counts what it restores, and dates an entry restored without writtenAt now', () => {
    const store = new MemoryStore()
    const before = Date.now()
    store.load([
      { key: '/a', json: '"x"', revision: 2 },
      { key: '/bb', json: '[1,2]', revision: 0, writtenAt: before - 5000 },
    ])
    expect(store.chars()).toBe('/a'.length + '"x"'.length + '/bb'.length + '[1,2]'.length)
    const [a, bb] = store.dump()
    expect(a!.writtenAt).toBeGreaterThanOrEqual(before)
    expect(a!.writtenAt).toBeLessThanOrEqual(Date.now())
    expect(bb!.writtenAt).toBe(before - 5000)
    store.close()
  })
})

