// A cached key: a write confirmed before its echo (optimistic: false), when
// `cache.peek()` may answer for it, and a hydrated state.
//
// One test runs against a real server. The rest drive the cache with a
// scripted client (scripted-cache.ts): a write's answer arriving
// before its echo, or a look between a stream's value and its `ready`, is
// what a real stream gives only by luck.

import { describe, expect, it } from 'vitest'
import { AtomKVError, LOADING_KEY } from '@atomkv/client'
import { scriptedCache, value } from './scripted-cache.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'



describe('a write through the cache with optimistic: false', () => {
  it('shows the stored value once set() resolves (real server)', async () => {
    const server = await startServer()
    const cache = startClient(server.url, { cache: { releaseDelayMs: 0 } }).cache
    const key = cache.key<{ n: number }>('/plain')
    const stop = key.listen(() => {})
    await waitFor(() => key.get().status === 'ready', 'the key to be ready')
    const revision = await key.set({ n: 1 }, { optimistic: false })
    expect(key.get()).toEqual({ value: { n: 1 }, revision, status: 'ready', error: undefined, pending: false })
    stop()
  })

  it('shows the stored value as soon as the server answers, before the echo, which then changes nothing', async () => {
    const { cache, emit, revisions: answers } = scriptedCache()
    const key = cache.key<number>('/k')
    let calls = 0
    const stop = key.listen(() => calls++)
    emit('/k', value('/k', 5, 0), { type: 'ready' })
    answers.push(1)
    expect(await key.set(6, { optimistic: false })).toBe(1)
    const shown = key.get()
    expect(shown).toEqual({ value: 6, revision: 1, status: 'ready', error: undefined, pending: false })
    expect(Object.isFrozen(shown)).toBe(true)
    expect(calls).toBe(2)
    emit('/k', value('/k', 6, 1)) // the echo
    expect(key.get()).toBe(shown)
    expect(calls).toBe(2)
    stop()
  })

  it('waits for the stream when the answer comes before the key loaded', async () => {
    const { cache, emit, revisions: answers } = scriptedCache()
    const key = cache.key<number>('/k')
    const stop = key.listen(() => {})
    answers.push(0)
    await key.set(1, { optimistic: false })
    expect(key.get()).toBe(LOADING_KEY)
    emit('/k', value('/k', 1, 0), { type: 'ready' })
    expect(key.get()).toMatchObject({ value: 1, revision: 0, status: 'ready' })
    stop()
  })

  it('waits for the stream when the answer is ahead of it: another write came between', async () => {
    const { cache, emit, revisions: answers } = scriptedCache()
    const key = cache.key<string>('/k')
    const stop = key.listen(() => {})
    emit('/k', value('/k', 'first', 0), { type: 'ready' })
    const before = key.get()
    answers.push(2)
    await key.set('mine', { optimistic: false })
    expect(key.get()).toBe(before)
    emit('/k', value('/k', 'theirs', 1), value('/k', 'mine', 2))
    expect(key.get()).toMatchObject({ value: 'mine', revision: 2 })
    stop()
  })
})

describe('peek() of a watched key', () => {
  it('knows the key from its first value on, and only while its state is current', async () => {
    const { cache, emit } = scriptedCache()
    const key = cache.key<number>('/k')
    const stop = key.listen(() => {})
    expect(cache.peek('/k')).toBeUndefined() // loading
    emit('/k', value('/k', 7, 3))
    expect(cache.peek('/k')).toEqual([7, 3]) // a key's snapshot is its one value: current before the ready
    emit('/k', { type: 'ready' })
    expect(cache.peek('/k')).toEqual([7, 3])
    emit('/k', { type: 'error', error: new AtomKVError('refused', { code: 'forbidden', key: '/k' }) })
    expect(key.get()).toMatchObject({ value: 7, revision: 3, status: 'error' })
    expect(cache.peek('/k')).toBeUndefined()
    stop()
  })

  it('knows a missing key as [null, -1] once ready', () => {
    const { cache, emit } = scriptedCache()
    const stop = cache.key('/k').listen(() => {})
    expect(cache.peek('/k')).toBeUndefined()
    emit('/k', { type: 'ready' })
    expect(cache.peek('/k')).toEqual([null, -1])
    stop()
  })
})

describe('a hydrated key', () => {
  it('is ready, not pending, with the value and revision it was given', () => {
    const { cache } = scriptedCache()
    cache.hydrate({ '/h': [{ n: 1 }, 4] })
    expect(cache.key('/h').get()).toEqual({ value: { n: 1 }, revision: 4, status: 'ready', error: undefined, pending: false })
    expect(cache.key('/h').initial?.()).toBe(cache.key('/h').get())
  })

  it('is missing when given a revision below 0, whatever value came with it', () => {
    const { cache } = scriptedCache()
    cache.hydrate({ '/gone': ['stale', -1] })
    expect(cache.key('/gone').get()).toEqual({ value: null, revision: -1, status: 'ready', error: undefined, pending: false })
  })
})
