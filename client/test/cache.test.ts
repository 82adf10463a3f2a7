import { beforeEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_RELEASE_DELAY_MS,
  LOADING_KEY,
  type AtomKVCache,
  type AtomKVClient,
  type CacheOptions,
  type Observable,
  type PrefixState,
} from '@atomkv/client'
import {
  afterRestart,
  startClient,
  startServer,
  waitFor,
  type TestServer,
  type TestServerOptions,
} from '@atomkv/test-support'

/** Counts notifications of a handle and keeps it live until `stop()`. */
function observe<S>(store: Observable<S>) {
  const seen = { calls: 0, stop: () => {} }
  seen.stop = store.listen(() => seen.calls++)
  return seen
}

let server: TestServer
let client: AtomKVClient
let writer: AtomKVClient

/** The cache of a new client of the server, made with `options`; the client is closed after the test. */
function cacheWith(options: CacheOptions): AtomKVCache {
  return startClient(server.url, { cache: options }).cache
}

beforeEach(async () => {
  server = await startServer()
  client = startClient(server.url)
  writer = startClient(server.url)
})

describe('cached keys', () => {
  it('loads the current value from the stream and follows writes', async () => {
    await writer.set('/greeting', { text: 'hello' })
    const cache = cacheWith({ releaseDelayMs: 0 })
    const store = cache.key<{ text: string }>('/greeting')
    expect(store.get()).toBe(LOADING_KEY)
    const seen = observe(store)
    await waitFor(() => store.get().status === 'ready', 'ready')
    expect(store.get()).toEqual({ value: { text: 'hello' }, revision: 0, status: 'ready', error: undefined, pending: false })
    expect(Object.isFrozen(store.get())).toBe(true)

    await writer.set('/greeting', { text: 'hi' })
    await waitFor(() => store.get().revision === 1, 'revision 1')
    expect(store.get().value).toEqual({ text: 'hi' })
    expect(seen.calls).toBe(2)
    seen.stop()
  })

  it('shows a missing key as null, revision -1, ready', async () => {
    const store = client.cache.key('/nothing/here')
    const seen = observe(store)
    await waitFor(() => store.get().status === 'ready', 'ready')
    expect(store.get()).toEqual({ value: null, revision: -1, status: 'ready', error: undefined, pending: false })
    await writer.set('/nothing/here', 1)
    await waitFor(() => store.get().revision === 0, 'the first write')
    expect(store.get().value).toBe(1)
    seen.stop()
  })

  it('shares one cached key and one subscription among observers, and stops after the release delay', async () => {
    const cache = cacheWith({ releaseDelayMs: 30 })
    const a = observe(cache.key('/shared'))
    const b = observe(cache.key('/shared'))
    await waitFor(() => cache.key('/shared').get().status === 'ready', 'ready')
    await waitFor(() => server.atomkv.stats().streams === 1, 'one stream')
    expect(server.atomkv.stats().subscriptions).toBe(1)
    expect(cache.size).toBe(1)
    expect(cache.observers('/shared')).toBe(2)

    a.stop()
    a.stop() // a second stop is a no-op, not someone else's release
    expect(cache.observers('/shared')).toBe(1)
    b.stop()
    expect(cache.observers('/shared')).toBe(0)
    await waitFor(() => cache.size === 0, 'the key released')
    await waitFor(() => server.atomkv.stats().streams === 0, 'the stream closed')
    expect(server.atomkv.stats().subscriptions).toBe(0)
  })

  it('keeps the cached key, its subscription and its value through a release delay', async () => {
    const cache = cacheWith({ releaseDelayMs: 60_000 })
    const store = cache.key('/kept')
    const first = observe(store)
    await waitFor(() => store.get().status === 'ready', 'ready')
    const state = store.get()
    first.stop()

    // StrictMode's unmount → mount, or a route change and back.
    const second = observe(store)
    expect(store.get()).toBe(state)
    expect(cache.size).toBe(1)
    await writer.set('/kept', 'live')
    await waitFor(() => store.get().value === 'live', 'the live write')
    expect(server.atomkv.stats().subscriptions).toBe(1)
    second.stop()

    expect(cache.size).toBe(1) // still within its delay
    cache.clear()
    expect(cache.size).toBe(0)
    await waitFor(() => server.atomkv.stats().streams === 0, 'the stream closed')
  })

  it('releases at once with a release delay of 0', async () => {
    const cache = cacheWith({ releaseDelayMs: 0 })
    const seen = observe(cache.key('/now'))
    expect(cache.size).toBe(1)
    seen.stop()
    expect(cache.size).toBe(0)
  })

  it('holds nothing for a handle that is only read', () => {
    const cache = client.cache
    for (let i = 0; i < 100; i++) expect(cache.key(`/k${i}`).get()).toBe(LOADING_KEY)
    expect(cache.size).toBe(0)
    expect(client.status).toBe('closed')
  })

  it('never notifies for an unchanged key: not for other keys, not across a reset', async () => {
    server = await restartWith({ backlog: { maxEvents: 0 } }) // every resume is a reset
    await writer.set('/still', { n: 1 })
    const cache = client.cache
    const still = cache.key('/still')
    const moving = cache.key('/moving')
    const stillSeen = observe(still)
    const movingSeen = observe(moving)
    let resets = 0
    const unwatch = client.watch('/still', (event) => void (event.type === 'reset' && resets++))
    await waitFor(() => still.get().status === 'ready' && moving.get().status === 'ready', 'ready')
    const state = still.get()
    expect(stillSeen.calls).toBe(1)

    await writer.set('/moving', 1)
    await waitFor(() => moving.get().value === 1, 'the other key')
    expect(server.atomkv.closeStreams()).toBe(1)
    await writer.set('/moving', 2)
    await waitFor(() => resets > 0, 'a reset')
    await writer.set('/moving', 3) // after the rebuild: it comes live
    await waitFor(() => moving.get().value === 3, 'the other key after the reset')

    expect(still.get()).toBe(state)
    expect(stillSeen.calls).toBe(1)
    expect(movingSeen.calls).toBeGreaterThanOrEqual(3)
    unwatch()
    stillSeen.stop()
    movingSeen.stop()
  })

  it('modify() runs the compare-and-swap loop and shows the committed value at once', async () => {
    const cache = client.cache
    const store = cache.key<number>('/count')
    const seen = observe(store)
    await waitFor(() => store.get().status === 'ready', 'ready')

    // Coalesced: the first call's write, then one write for the nine that waited behind it.
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.modify((n) => (n ?? 0) + 1)),
    )
    expect(results).toEqual([1, 10, 10, 10, 10, 10, 10, 10, 10, 10])
    expect(store.get()).toMatchObject({ value: 10, revision: 1 }) // shown when the promises resolve
    expect(await writer.get('/count')).toEqual([10, 1])

    // The committed value is visible when the promise resolves, echo or not.
    const eleven = await store.modify((n) => (n ?? 0) + 1)
    expect(eleven).toBe(11)
    expect(store.get().value).toBe(11)
    expect(await store.modify(() => undefined)).toBeUndefined()
    expect(await cache.modify<number>('/count', (n) => (n ?? 0) + 1)).toEqual([12, 3])
    expect(store.get()).toMatchObject({ value: 12, revision: 3 })
    seen.stop()
  })

  it('shows values as the server stores them: JSON', async () => {
    const cache = client.cache
    const store = cache.key('/json')
    const seen = observe(store)
    await waitFor(() => store.get().status === 'ready', 'ready')
    await store.set({ when: new Date(0), gone: undefined, n: 1 })
    expect(store.get().value).toEqual({ when: '1970-01-01T00:00:00.000Z', n: 1 })
    seen.stop()
  })

  it('reports an invalid key as an error without subscribing', () => {
    const cache = client.cache
    for (const bad of ['nope', '/a//b', '/a/', '/a.b']) {
      const store = cache.key(bad)
      const stop = store.listen(() => {})
      expect(store.get().status).toBe('error')
      expect(store.get().error?.code).toBe('invalid-key')
      stop()
    }
    expect(cache.size).toBe(0)
    expect(client.status).toBe('closed')
  })

  it('reports a closed client as an error', () => {
    client.close()
    const store = client.cache.key('/after')
    const stop = store.listen(() => {})
    expect(store.get().status).toBe('error')
    expect(store.get().error?.code).toBe('closed')
    stop()
  })
})

describe('cached prefixes', () => {
  it('holds every key under the prefix, live', async () => {
    await writer.set('/todos/1', { title: 'one' })
    await writer.set('/todos/2', { title: 'two' })
    await writer.set('/todosx', 'not covered')
    const cache = client.cache
    const todos = cache.prefix<{ title: string }>('/todos/')
    const seen = observe(todos)
    await waitFor(() => todos.get().status === 'ready', 'ready')
    expect(seen.calls).toBe(1) // the whole initial state at once
    expect(entriesOf(todos.get())).toEqual({ '/todos/1': [{ title: 'one' }, 0], '/todos/2': [{ title: 'two' }, 0] })

    const before = todos.get()
    await writer.set('/todos/2', { title: 'TWO' })
    await writer.set('/todos/3/sub', { title: 'nested' })
    await waitFor(() => todos.get().entries.size === 3, 'the new key')
    const after = todos.get()
    expect(entriesOf(after)['/todos/2']).toEqual([{ title: 'TWO' }, 1])
    expect(after.entries.get('/todos/1')).toBe(before.entries.get('/todos/1')) // unchanged items keep identity
    expect(before.entries.size).toBe(2) // a published map never changes
    expect(Object.isFrozen(after)).toBe(true)
    seen.stop()
  })

  it('rebuilds on a reset when the backlog moved on: new values, unchanged items kept', async () => {
    server = await restartWith({ backlog: { maxEvents: 2 } })
    for (const id of ['a', 'b', 'c']) await writer.set(`/board/${id}`, id)
    const cache = client.cache
    const board = cache.prefix<string>('/board/')
    const seen = observe(board)
    let resets = 0
    const unwatch = client.watch('/board/', (event) => void (event.type === 'reset' && resets++))
    await waitFor(() => board.get().entries.size === 3, 'the initial state')
    const itemA = board.get().entries.get('/board/a')

    // Cut the stream and write more than the backlog holds before the client
    // resumes: its position is evicted, so it gets a reset and the full state.
    let cuts = 0
    while (resets === 0) {
      expect(++cuts).toBeLessThan(50)
      server.atomkv.closeStreams()
      for (let i = 0; i < 3; i++) await writer.set('/other/x', i)
      await writer.set('/board/b', `b${cuts}`)
      await writer.set(`/board/n${cuts}`, 'new')
      await waitFor(() => board.get().entries.has(`/board/n${cuts}`), 'the writes')
    }
    expect(board.get().entries.get('/board/b')?.value).toBe(`b${cuts}`)
    expect(board.get().entries.get('/board/a')).toBe(itemA)
    expect(board.get().status).toBe('ready')
    unwatch()
    seen.stop()
  })

  it('drops keys that no longer exist after a server restart', async () => {
    await writer.set('/room/alice', 1)
    await writer.set('/room/bob', 1)
    const cache = client.cache
    const room = cache.prefix<number>('/room/')
    const alone = cache.key<number>('/room/bob')
    const seenRoom = observe(room)
    const seenBob = observe(alone)
    await waitFor(() => room.get().entries.size === 2 && alone.get().status === 'ready', 'the initial state')

    // A new, empty server on the same port: the client's position means nothing there.
    await server.restart()
    await afterRestart(() => writer.set('/room/carol', 7))
    await waitFor(() => room.get().entries.has('/room/carol'), 'the new state')
    expect(entriesOf(room.get())).toEqual({ '/room/carol': [7, 0] })
    await waitFor(() => alone.get().revision === -1, 'the key gone')
    expect(alone.get()).toEqual({ value: null, revision: -1, status: 'ready', error: undefined, pending: false })
    seenRoom.stop()
    seenBob.stop()
  })

  it('rejects a path that is not a prefix', () => {
    const cache = client.cache
    expect(cache.prefix('/todos').get().error?.code).toBe('invalid-key')
    expect(cache.prefix('/').get().status).toBe('error')
  })
})

describe('client.cache', () => {
  it('is one cache per client, its options fixed when the client is made', () => {
    expect(client.cache).toBe(client.cache)
    expect(writer.cache).not.toBe(client.cache)
    expect(client.cache.client).toBe(client)
    expect(client.cache.releaseDelayMs).toBe(DEFAULT_RELEASE_DELAY_MS)
    expect(cacheWith({ releaseDelayMs: 5 }).releaseDelayMs).toBe(5)
    expect(() => cacheWith({ releaseDelayMs: -1 })).toThrow(RangeError)
    expect(() => cacheWith({ releaseDelayMs: Infinity })).toThrow(RangeError)
    // @ts-expect-error read-only: options do not change after creation
    expect(() => (client.cache = writer.cache)).toThrow(TypeError)
  })
})

/** Replaces the default server with one made with `options` on a fresh port, and points the clients at it. */
async function restartWith(options: TestServerOptions): Promise<TestServer> {
  const next = await startServer(options)
  client.close()
  writer.close()
  client = startClient(next.url)
  writer = startClient(next.url)
  return next
}

function entriesOf<T>(state: PrefixState<T>): Record<string, [T, number]> {
  return Object.fromEntries([...state.entries].map(([key, item]) => [key, [item.value, item.revision]]))
}

describe('hydrated keys', () => {
  it('show the hydrated state at once; the stream then corrects what changed, and a key gone is missing', async () => {
    await writer.set('/h/same', 'same')
    await writer.set('/h/changed', 'new')
    const cache = cacheWith({ releaseDelayMs: 0 })
    cache.hydrate({ '/h/same': ['same', 0], '/h/changed': ['old', 0], '/h/gone': ['was here', 3], '/h/none': [null, -1] })
    const same = cache.key('/h/same')
    const changed = cache.key('/h/changed')
    const gone = cache.key('/h/gone')
    expect(same.get()).toMatchObject({ value: 'same', revision: 0, status: 'ready' })
    expect(changed.initial?.()).toMatchObject({ value: 'old', status: 'ready' }) // what a server render showed
    expect(cache.key('/h/none').get()).toMatchObject({ value: null, revision: -1, status: 'ready' })
    const stops = [same, changed, gone].map((handle) => handle.listen(() => {}))
    await waitFor(() => changed.get().value === 'new', 'the stream to replace a stale value of the same revision')
    await waitFor(() => gone.get().revision === -1, 'a key the server no longer has to be missing')
    expect(same.get()).toMatchObject({ value: 'same', revision: 0 })
    expect(changed.initial?.()).toMatchObject({ value: 'old' }) // the initial state stays what it was
    for (const stop of stops) stop()
  })

  it('leaves a key that already loaded as it is', async () => {
    await writer.set('/h/k', 1)
    const cache = cacheWith({ releaseDelayMs: 1000 })
    const handle = cache.key('/h/k')
    const stop = handle.listen(() => {})
    await waitFor(() => handle.get().status === 'ready', 'ready')
    cache.hydrate({ '/h/k': [99, 7] })
    expect(handle.get()).toMatchObject({ value: 1, revision: 0 })
    stop()
  })
})
