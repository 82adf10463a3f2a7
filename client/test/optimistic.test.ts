// Optimistic values in the cache: a write through it shows at once, marked
// pending, stacks on the others in order, and falls back to the server's
// value when it fails. Real server; the writes are held back by the client's
// fetch so the test can look while they are in flight.

import { beforeEach, describe, expect, it } from 'vitest'
import {
  AtomKVConflictError,
  AtomKVError,
  KeyObserver,
  type AtomKVClient,
  type CacheClient,
  type KeyHandle,
  type KeyState,
  type WatchEvent,
} from '@atomkv/client'
import { AtomKVCache } from '../src/cache/cache.js'
import { holdingFetch, startClient, startServer, waitFor, type TestServer } from '@atomkv/test-support'
import { tokenAuth } from '@atomkv/server'

let server: TestServer
let writer: AtomKVClient

beforeEach(async () => {
  server = await startServer()
  writer = startClient(server.url)
})

/** A client whose writes (`PUT`, `POST`) wait while `hold()`; reads go through. */
function heldWrites(url = server.url, token?: string) {
  const held = holdingFetch((method) => method === 'PUT' || method === 'POST')
  const client = startClient(url, { fetch: held.fetch, cache: { releaseDelayMs: 0 }, token })
  return { held, client }
}

/** Watches `handle` and records every state it publishes; ready when the key is. */
async function watched<T>(handle: KeyHandle<T>) {
  const states: KeyState<T>[] = []
  const stop = handle.listen(() => states.push(handle.get()))
  await waitFor(() => handle.get().status === 'ready', 'the key ready')
  return { states, stop }
}

/** The value and pending flag of a state, for short assertions. */
const shown = (state: KeyState<unknown>) => [state.value, state.pending]

describe('optimistic writes through the cache', () => {
  it('shows a modify at once, pending, then the committed value, and the echo changes nothing', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { states, stop } = await watched(key)
    const echoes: number[] = []
    const unwatch = client.watch('/n', (event) => void (event.type === 'value' && echoes.push(event.revision)))
    held.hold()
    const done = key.modify((n) => (n ?? 0) + 1)
    expect(shown(key.get())).toEqual([6, true]) // synchronously: before any request
    expect(key.get().revision).toBe(0) // still the server's
    expect(Object.isFrozen(key.get())).toBe(true)
    await waitFor(() => held.waiting === 1, 'the write sent')
    held.release()
    expect(await done).toBe(6)
    expect(key.get()).toEqual({ value: 6, revision: 1, status: 'ready', error: undefined, pending: false })
    const settled = key.get()
    await waitFor(() => echoes.includes(1), 'the echo of revision 1')
    expect(key.get()).toBe(settled)
    unwatch()
    // Ready, then pending, then committed. The echo may come before the
    // answer (a new revision, still pending): never is the +1 shown twice.
    expect(states.map(shown)[0]).toEqual([5, false])
    expect(states.slice(1).map((state) => state.value)).toEqual(states.slice(1).map(() => 6))
    expect(shown(states.at(-1)!)).toEqual([6, false])
    stop()
  })

  it('stacks concurrent writes in the order they were made', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { stop } = await watched(key)
    held.hold()
    const writes = [key.modify((n) => (n ?? 0) + 1), key.modify((n) => (n ?? 0) * 2)]
    expect(shown(key.get())).toEqual([12, true]) // (5 + 1) * 2, not 5 * 2 + 1
    writes.push(key.modify((n) => (n ?? 0) - 2))
    expect(shown(key.get())).toEqual([10, true])
    held.release()
    await Promise.all(writes)
    // modify() applies them in the same order: what was shown is what is stored.
    expect(await writer.get<number>('/n')).toEqual([10, expect.any(Number)])
    expect(shown(key.get())).toEqual([10, false])
    stop()
  })

  it('never shows the calls of one coalesced write on top of its result while they are answered', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { states, stop } = await watched(key)
    held.hold()
    // The first goes out alone; the next three wait and go as one write.
    const writes = [1, 2, 3, 4].map(() => key.modify((n) => (n ?? 0) + 1))
    expect(shown(key.get())).toEqual([9, true])
    held.release()
    expect(await Promise.all(writes)).toEqual([6, 9, 9, 9])
    expect(key.get()).toMatchObject({ value: 9, revision: 2, pending: false })
    // 6, 7, 8, 9 as the calls were made; from then on 9, whatever was answered when.
    const values = states.map((state) => state.value)
    expect(values.slice(0, 5)).toEqual([5, 6, 7, 8, 9])
    expect(values.slice(5).every((value) => value === 9)).toBe(true)
    stop()
  })

  it('builds the pending value on each newer confirmed value: another client’s write shows under it', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { stop } = await watched(key)
    held.hold()
    const done = key.modify((n) => (n ?? 0) + 1)
    await waitFor(() => held.waiting === 1, 'the write sent')
    await writer.set('/n', 100)
    await waitFor(() => key.get().revision === 1, 'the other write')
    expect(shown(key.get())).toEqual([101, true])
    held.release()
    expect(await done).toBe(101) // the conflict re-ran fn on 100
    expect(shown(key.get())).toEqual([101, false])
    stop()
  })

  it('falls back to the server’s value when the write gives up on conflicts', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { states, stop } = await watched(key)
    held.hold()
    const done = key.modify((n) => (n ?? 0) + 1, { maxAttempts: 1 })
    await waitFor(() => held.waiting === 1, 'the write sent')
    await writer.set('/n', 50)
    await waitFor(() => key.get().revision === 1, 'the other write')
    held.release()
    await expect(done).rejects.toBeInstanceOf(AtomKVConflictError)
    expect(key.get()).toEqual({ value: 50, revision: 1, status: 'ready', error: undefined, pending: false })
    expect(states.map(shown)).toEqual([
      [5, false],
      [6, true],
      [51, true],
      [50, false],
    ])
    stop()
  })

  it('falls back to the server’s value when the write fails', async () => {
    const secured = await startServer({ authorize: tokenAuth({ 'reader-token-1': { read: ['/'] } }) })
    const { held, client } = heldWrites(secured.url, 'reader-token-1')
    const key = client.cache.key<number>('/n')
    const { stop } = await watched(key)
    expect(shown(key.get())).toEqual([null, false])
    held.hold()
    const done = key.modify((n) => (n ?? 0) + 1)
    expect(shown(key.get())).toEqual([1, true])
    held.release()
    await expect(done).rejects.toMatchObject({ code: 'forbidden' })
    expect(shown(key.get())).toEqual([null, false])
    const setDone = key.set(9)
    expect(shown(key.get())).toEqual([9, true])
    await expect(setDone).rejects.toBeInstanceOf(AtomKVError)
    expect(shown(key.get())).toEqual([null, false])
    stop()
  })

  it('drops an aborted modify, and skips for display a function that throws, aborts or is async', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { stop } = await watched(key)
    const before = key.get()
    expect(await key.modify(() => undefined)).toBeUndefined()
    expect(key.get()).toBe(before) // back to the very same state object
    held.hold()
    const writes = [
      key.modify(() => {
        throw new Error('not today')
      }),
      key.modify(async (n) => (n ?? 0) + 10),
      key.modify((n) => (n ?? 0) * 2),
    ]
    expect(shown(key.get())).toEqual([10, true]) // only the last one shows: 5 * 2
    held.release()
    const results = await Promise.allSettled(writes)
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    const [stored, revision] = await writer.get<number>('/n')
    await waitFor(() => !key.get().pending && key.get().revision === revision, 'settled')
    expect(key.get().value).toBe(stored)
    stop()
  })

  it('shows set at once too, and nothing early with optimistic: false', async () => {
    await writer.set('/n', 5)
    const { held, client } = heldWrites()
    const key = client.cache.key<number>('/n')
    const { states, stop } = await watched(key)
    held.hold()
    const quiet = key.modify((n) => (n ?? 0) + 1, { optimistic: false })
    const silentSet = key.set(40, { optimistic: false })
    expect(shown(key.get())).toEqual([5, false])
    const loud = key.set(7)
    expect(shown(key.get())).toEqual([7, true])
    held.release()
    await Promise.all([quiet, silentSet, loud])
    const [stored, revision] = await writer.get<number>('/n')
    await waitFor(() => !key.get().pending && key.get().revision === revision, 'settled')
    expect(key.get().value).toBe(stored)
    expect(states.slice(0, 2).map(shown)).toEqual([
      [5, false],
      [7, true],
    ])
    stop()
  })

  it('shows nothing for a key nobody watches, and writes it all the same', async () => {
    const { client } = heldWrites()
    expect(await client.cache.modify<number>('/n', (n) => (n ?? 0) + 1)).toEqual([1, 0])
    expect(client.cache.size).toBe(0)
    expect(await writer.get('/n')).toEqual([1, 0])
  })

  it('through a KeyObserver: pending in the view, initialValue for a missing key in modify', async () => {
    const { held, client } = heldWrites()
    const observer = new KeyObserver<string[], string[] | null, string[]>(client.cache.key<string[]>('/list'), {
      initialValue: [],
    })
    const stop = observer.listen(() => {})
    await waitFor(() => observer.get().status === 'ready', 'ready')
    expect(observer.get()).toMatchObject({ value: [], pending: false })
    held.hold()
    const done = observer.modify((list) => [...list, 'milk'])
    expect(observer.get()).toMatchObject({ value: ['milk'], revision: -1, pending: true })
    held.release()
    expect(await done).toEqual(['milk'])
    expect(observer.get()).toMatchObject({ value: ['milk'], revision: 0, pending: false })
    stop()
  })
})

/**
 * A cache over a client whose stream and writes the test plays by hand: for
 * orders of events a real server gives only by chance (a stream behind the
 * answers to this client's writes).
 */
function scripted() {
  let emit: (event: WatchEvent) => void = () => {}
  const answers: ((result: [unknown, number] | undefined) => void)[] = []
  const client: CacheClient = {
    watch: (_path, listener) => {
      emit = listener as (event: WatchEvent) => void
      return () => {}
    },
    modify: () => new Promise((resolve) => answers.push(resolve as never)),
    set: () => Promise.reject(new Error('not scripted')),
    delete: () => Promise.reject(new Error('not scripted')),
  }
  const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
  return { cache, emit: (event: WatchEvent) => emit(event), answer: (result: [unknown, number] | undefined) => answers.shift()!(result) }
}

describe('optimistic writes, the stream behind', () => {
  it('keeps a committed value shown until the stream catches up with it: no flicker back', async () => {
    const { cache, emit, answer } = scripted()
    const key = cache.key<number>('/n')
    const states: KeyState<number>[] = []
    const stop = key.listen(() => states.push(key.get()))
    emit({ type: 'value', key: '/n', value: 5, revision: 0 })
    emit({ type: 'ready' })
    const done = key.modify((n) => (n ?? 0) + 1)
    // Another client wrote 100 at revision 1; ours conflicted, re-ran on it and committed at 2.
    answer([101, 2])
    expect(await done).toBe(101)
    const committed = key.get()
    expect(committed).toMatchObject({ value: 101, revision: 2, pending: false })
    emit({ type: 'value', key: '/n', value: 100, revision: 1 }) // the stream, late
    expect(key.get()).toBe(committed)
    emit({ type: 'value', key: '/n', value: 101, revision: 2 }) // the echo
    expect(key.get()).toBe(committed)
    emit({ type: 'value', key: '/n', value: 7, revision: 3 })
    expect(key.get()).toMatchObject({ value: 7, revision: 3, pending: false })
    expect(states.map(shown)).toEqual([
      [5, false],
      [6, true],
      [101, false],
      [7, false],
    ])
    stop()
  })

  it('lets a removal through after a committed write the stream has not brought', async () => {
    const { cache, emit, answer } = scripted()
    const key = cache.key<number>('/n')
    const stop = key.listen(() => {})
    emit({ type: 'value', key: '/n', value: 5, revision: 0 })
    emit({ type: 'ready' })
    const done = key.modify((n) => (n ?? 0) + 1)
    answer([6, 3])
    await done
    expect(key.get()).toMatchObject({ value: 6, revision: 3 })
    emit({ type: 'delete', key: '/n' })
    expect(key.get()).toMatchObject({ value: null, revision: -1, pending: false })
    stop()
  })

  it('shows nothing of a pending write while loading, and builds on the value once it arrives', async () => {
    const { cache, emit, answer } = scripted()
    const key = cache.key<number>('/n')
    const stop = key.listen(() => {})
    const done = key.modify((n) => (n ?? 0) + 1)
    expect(key.get()).toMatchObject({ value: null, status: 'loading', pending: true })
    emit({ type: 'value', key: '/n', value: 5, revision: 0 })
    emit({ type: 'ready' })
    expect(key.get()).toMatchObject({ value: 6, status: 'ready', pending: true })
    answer(undefined) // aborted after all
    expect(await done).toBeUndefined()
    expect(key.get()).toMatchObject({ value: 5, revision: 0, pending: false })
    stop()
  })
})
