// Deletes through the client: the request, and what watchers, iterators, the
// cache and modify() make of a removal.

import { describe, expect, it } from 'vitest'
import { AtomKVError, type Observable } from '../src/index.js'
import { afterRestart, startClient, startServer, waitFor } from '@atomkv/test-support'
import { recorder, take } from './helpers.js'

function observe<S>(store: Observable<S>): () => void {
  return store.listen(() => {})
}

describe('client.delete', () => {
  it('removes a key: true, then it reads as missing and starts again at revision 0', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/d', 'a')
    expect(await kv.delete('/d')).toBe(true)
    expect(await kv.get('/d')).toEqual([null, -1])
    expect(await kv.delete('/d')).toBe(false) // missing
    expect(await kv.set('/d', 'b')).toBe(0)
  })

  it('compare-and-delete: only at the current revision', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/c', 'a')
    await kv.set('/c', 'b')
    expect(await kv.delete('/c', { revision: 0 })).toBe(false)
    expect(await kv.get('/c')).toEqual(['b', 1])
    expect(await kv.delete('/c', { revision: 1 })).toBe(true)
    expect(await kv.get('/c')).toEqual([null, -1])
    expect(await kv.delete('/c', { revision: 0 })).toBe(false)
  })

  it('refuses an invalid key or revision before sending anything', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await expect(kv.delete('/a/')).rejects.toMatchObject({ code: 'invalid-key' })
    await expect(kv.delete('/a', { revision: 1.5 })).rejects.toMatchObject({ code: 'invalid-value' })
    await expect(kv.delete('/a', { revision: 1.5 })).rejects.toBeInstanceOf(AtomKVError)
  })
})

describe('removals seen by subscriptions', () => {
  it('watch: a delete event in order with the writes; the key written again starts at revision 0', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const onKey = recorder()
    const onPrefix = recorder()
    kv.watch('/w/k', onKey.listener)
    kv.watch('/w/', onPrefix.listener, { initial: true })
    await waitFor(() => onKey.types().includes('ready') && onPrefix.types().includes('ready'), 'both ready')
    await kv.set('/w/k', 1)
    await kv.set('/w/k', 2)
    await kv.delete('/w/k')
    await kv.delete('/w/k') // nothing to remove: no event
    await kv.set('/w/k', 3)
    const expected = ['ready', '/w/k:0', '/w/k:1', 'delete:/w/k', '/w/k:0']
    await waitFor(() => onKey.types().length === expected.length && onPrefix.types().length === expected.length, 'every event')
    expect(onKey.types()).toEqual(expected)
    expect(onPrefix.types()).toEqual(expected)
    expect(onPrefix.state).toEqual(new Map([['/w/k', [3, 0]]]))
  })

  it('subscribe: a removal yields [key, null, -1], as the original does, unlike a write of null', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe('/s/')
    await sub.ready
    await kv.set('/s/a', null)
    await kv.delete('/s/a')
    await kv.set('/s/a', 'back')
    expect(await take(sub, 3)).toEqual([
      ['/s/a', null, 0],
      ['/s/a', null, -1],
      ['/s/a', 'back', 0],
    ])
  })

  it('tells an iterator of keys removed while its stream was down', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { retry: { minDelayMs: 10, maxDelayMs: 50 } })
    await kv.set('/gap/a', 'a')
    await kv.set('/gap/b', 'b')
    const sub = kv.subscribe('/gap/')
    await sub.ready
    await server.close()
    await server.restart() // a new instance: the stream cannot resume, and the keys are gone
    expect((await take(sub, 2)).sort()).toEqual([
      ['/gap/a', null, -1],
      ['/gap/b', null, -1],
    ])
    await afterRestart(() => kv.set('/gap/b', 'b again'))
    expect(await take(sub, 1)).toEqual([['/gap/b', 'b again', 0]])
  })
})

describe('removals in the cache', () => {
  it('shows a deleted key as missing, and a prefix without it; remove() deletes', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/todo/1', { title: 'one' })
    await kv.set('/todo/2', { title: 'two' })
    const item = kv.cache.key<{ title: string }>('/todo/1')
    const list = kv.cache.prefix<{ title: string }>('/todo/')
    const stops = [observe(item), observe(list)]
    await waitFor(() => item.get().status === 'ready' && list.get().entries.size === 2, 'both loaded')

    expect(await item.remove()).toBe(true)
    await waitFor(() => item.get().revision === -1, 'the key to go')
    expect(item.get()).toEqual({ value: null, revision: -1, status: 'ready', error: undefined, pending: false })
    await waitFor(() => list.get().entries.size === 1, 'the prefix to drop it')
    expect([...list.get().entries.keys()]).toEqual(['/todo/2'])

    expect(await item.remove()).toBe(false)
    expect(await kv.cache.key('/todo/2').remove({ revision: 5 })).toBe(false)
    await item.set({ title: 'one again' })
    await waitFor(() => list.get().entries.size === 2, 'the key back in the prefix')
    expect(list.get().entries.get('/todo/1')).toEqual({ value: { title: 'one again' }, revision: 0 })
    for (const stop of stops) stop()
  })
})

describe('modify around a removal', () => {
  it('treats a key deleted mid-loop as missing', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const other = startClient(server.url)
    await kv.set('/m', 5)
    const seen: [unknown, number][] = []
    const result = await kv.modify<number>('/m', async (n, revision) => {
      seen.push([n, revision])
      if (seen.length === 1) await other.delete('/m') // lands between the read and the write
      return (n ?? 0) + 1
    })
    expect(seen).toEqual([
      [5, 0],
      [null, -1],
    ])
    expect(result).toEqual([1, 0])
    expect(await kv.get('/m')).toEqual([1, 0])
  })
})
