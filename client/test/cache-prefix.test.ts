// A cached prefix: its map after a rebuild, an error, and this client's
// writes confirmed before their echo; and `cache.peek()` through it.
//
// The first tests run against a real server. The rest drive the cache with a
// scripted client (scripted-cache.ts): what they check depends on the
// order of events within one stream chunk, or on a write's answer arriving
// before its echo, which a real stream gives only by luck.

import { describe, expect, it } from 'vitest'
import { AtomKVError, type PrefixHandle, type PrefixState } from '@atomkv/client'
import { scriptedCache, value } from './scripted-cache.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'

/** Lets queued microtasks (the prefix's one publish per tick) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Counts a handle's notifications and keeps it live. */
function observe<S>(handle: { listen(listener: () => void): () => void }) {
  const seen = { calls: 0, stop: () => {} }
  seen.stop = handle.listen(() => seen.calls++)
  return seen
}

function entriesOf<T>(state: PrefixState<T>): Record<string, [T, number]> {
  return Object.fromEntries([...state.entries].map(([key, item]) => [key, [item.value, item.revision]]))
}

describe('cached prefixes, real server', () => {
  it('shows an empty prefix as ready with no entries', async () => {
    const server = await startServer()
    const client = startClient(server.url, { cache: { releaseDelayMs: 0 } })
    const empty = client.cache.prefix('/empty/')
    const seen = observe(empty)
    await waitFor(() => empty.get().status === 'ready', 'the empty prefix to be ready')
    expect(empty.get().entries.size).toBe(0)
    expect(empty.get().error).toBeUndefined()
    expect(seen.calls).toBe(1)
    seen.stop()
  })

  it('shows a closed client as an error, with no entries', () => {
    const client = startClient('http://127.0.0.1:1')
    client.close()
    const prefix = client.cache.prefix('/p/')
    const seen = observe(prefix)
    expect(prefix.get().status).toBe('error')
    expect(prefix.get().error?.code).toBe('closed')
    expect(prefix.get().entries.size).toBe(0)
    expect(Object.isFrozen(prefix.get())).toBe(true)
    seen.stop()
  })

  it('lets peek() read the keys under a ready prefix: [value, revision], or [null, -1] for a missing one', async () => {
    const server = await startServer()
    const writer = startClient(server.url)
    await writer.set('/shelf/a', { n: 1 })
    await writer.set('/shelf/a', { n: 2 })
    const cache = startClient(server.url, { cache: { releaseDelayMs: 0 } }).cache
    const shelf = cache.prefix('/shelf/')
    const seen = observe(shelf)
    expect(cache.peek('/shelf/a')).toBeUndefined() // loading: not known yet
    await waitFor(() => shelf.get().status === 'ready', 'the prefix to be ready')
    expect(cache.peek('/shelf/a')).toEqual([{ n: 2 }, 1])
    expect(cache.peek('/shelf/none')).toEqual([null, -1])
    expect(cache.peek('/shelf/deep/none')).toEqual([null, -1])
    expect(cache.peek('/other/a')).toBeUndefined() // not under a watched path
    seen.stop()
  })
})



/** A prefix `/p/` watched and ready with `a` and `b` at revision 0. */
async function readyPrefix() {
  const { cache, emit, revisions: answers } = scriptedCache()
  const p: PrefixHandle<string> = cache.prefix<string>('/p/')
  const seen = observe(p)
  emit('/p/', value('/p/a', 'A', 0), value('/p/b', 'B', 0), { type: 'ready' })
  await settle()
  expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0], '/p/b': ['B', 0] })
  expect(seen.calls).toBe(1)
  return { cache, emit, answers, p, seen }
}

describe('a prefix rebuilt after a reset', () => {
  it('publishes nothing when the rebuild brought the same keys and values', async () => {
    const { emit, p, seen } = await readyPrefix()
    const before = p.get()
    emit('/p/', { type: 'reset' }, value('/p/a', 'A', 0), value('/p/b', 'B', 0), { type: 'ready' })
    await settle()
    expect(p.get()).toBe(before)
    expect(seen.calls).toBe(1)
  })

  it('shows what changed, a new revision of the same value included, and keeps the items that did not change', async () => {
    const { emit, p, seen } = await readyPrefix()
    const itemB = p.get().entries.get('/p/b')
    // `a` was removed and written again with the same value meanwhile: a new revision.
    emit('/p/', { type: 'reset' }, value('/p/a', 'A', 2), value('/p/b', 'B', 0), { type: 'ready' })
    await settle()
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 2], '/p/b': ['B', 0] })
    expect(p.get().entries.get('/p/b')).toBe(itemB)
    expect(seen.calls).toBe(2)
  })

  it('drops the keys the rebuild did not bring', async () => {
    const { emit, p, seen } = await readyPrefix()
    const itemA = p.get().entries.get('/p/a')
    emit('/p/', { type: 'reset' }, value('/p/a', 'A', 0), { type: 'ready' })
    await settle()
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0] })
    expect(p.get().entries.get('/p/a')).toBe(itemA)
    expect(seen.calls).toBe(2)
  })

  it('leaves out a key removed while the rebuild arrived, and shows nothing until its ready', async () => {
    const { emit, p, seen } = await readyPrefix()
    const before = p.get()
    emit('/p/', { type: 'reset' }, value('/p/c', 'C', 0), { type: 'delete', key: '/p/c' }, { type: 'delete', key: '/p/b' })
    emit('/p/', value('/p/a', 'A', 0), value('/p/b', 'B', 1))
    await settle()
    expect(p.get()).toBe(before) // mid-rebuild: the old map still shows
    emit('/p/', { type: 'ready' })
    await settle()
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0], '/p/b': ['B', 1] })
    expect(seen.calls).toBe(2)
  })

  it('is not known to peek() while it is being rebuilt', async () => {
    const { cache, emit } = await readyPrefix()
    expect(cache.peek('/p/a')).toEqual(['A', 0])
    emit('/p/', { type: 'reset' })
    expect(cache.peek('/p/a')).toBeUndefined()
    expect(cache.peek('/p/none')).toBeUndefined()
    emit('/p/', value('/p/a', 'A', 3), { type: 'ready' })
    expect(cache.peek('/p/a')).toEqual(['A', 3])
  })
})

describe('a prefix whose subscription failed', () => {
  it('shows the error with the entries it held, even right after a change in the same tick', async () => {
    const { cache, emit, p } = await readyPrefix()
    const error = new AtomKVError('refused', { code: 'forbidden', key: '/p/' })
    emit('/p/', value('/p/c', 'C', 0), { type: 'error', error })
    await settle()
    expect(p.get().status).toBe('error')
    expect(p.get().error).toBe(error)
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0], '/p/b': ['B', 0], '/p/c': ['C', 0] })
    expect(Object.isFrozen(p.get())).toBe(true)
    expect(cache.peek('/p/a')).toBeUndefined() // no longer current
    expect(cache.peek('/p/none')).toBeUndefined()
  })

  it('takes no confirmed write afterwards: it stays an error', async () => {
    const { cache, emit, answers, p } = await readyPrefix()
    const error = new AtomKVError('refused', { code: 'forbidden', key: '/p/' })
    emit('/p/', { type: 'error', error })
    const failed = p.get()
    answers.push(1)
    await cache.set('/p/a', 'A2')
    await settle()
    expect(p.get()).toBe(failed)
  })
})

describe("a prefix and this client's writes", () => {
  it('shows a write as soon as the server answers it, and its echo changes nothing', async () => {
    const { cache, emit, answers, p, seen } = await readyPrefix()
    answers.push(1)
    expect(await cache.set('/p/a', 'A2')).toBe(1)
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A2', 1], '/p/b': ['B', 0] })
    expect(seen.calls).toBe(2)
    const shown = p.get()
    emit('/p/', value('/p/a', 'A2', 1)) // the echo
    await settle()
    expect(p.get()).toBe(shown)
    expect(seen.calls).toBe(2)
  })

  it('shows a new key written through the cache as soon as the server answers', async () => {
    const { cache, answers, p } = await readyPrefix()
    answers.push(0)
    await cache.set('/p/new', { x: 1 })
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0], '/p/b': ['B', 0], '/p/new': [{ x: 1 }, 0] })
    expect(Object.isFrozen(p.get().entries.get('/p/new'))).toBe(true)
  })

  it('waits for the stream when the answer is ahead of it: another write came between', async () => {
    const { cache, emit, answers, p } = await readyPrefix()
    const before = p.get()
    answers.push(2) // revision 1 is someone else's, not streamed yet
    await cache.set('/p/a', 'mine')
    await settle()
    expect(p.get()).toBe(before)
    emit('/p/', value('/p/a', 'theirs', 1), value('/p/a', 'mine', 2))
    await settle()
    expect(entriesOf(p.get())['/p/a']).toEqual(['mine', 2])
  })

  it('waits for the stream when the answer comes before the prefix loaded', async () => {
    const { cache, emit, revisions: answers } = scriptedCache()
    const p = cache.prefix<string>('/p/')
    const seen = observe(p)
    const loading = p.get()
    answers.push(0)
    await cache.set('/p/a', 'A')
    await settle()
    expect(p.get()).toBe(loading)
    expect(seen.calls).toBe(0)
    emit('/p/', value('/p/a', 'A', 0), { type: 'ready' })
    await settle()
    expect(entriesOf(p.get())).toEqual({ '/p/a': ['A', 0] })
    expect(p.get().status).toBe('ready')
  })
})
