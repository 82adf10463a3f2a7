import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { get } from 'svelte/store'
import { beforeEach, describe, expect, it } from 'vitest'
import type { AtomKVClient } from '@atomkv/client'
import { atomkv, atomkvPrefix, atomkvStatus } from '../src/index.js'
import BoardApp from './BoardApp.svelte'
import Counter from './Counter.svelte'
import FollowApp from './FollowApp.svelte'
import Pending from './Pending.svelte'
import Runes from './Runes.svelte'
// Testing Library's waitFor retries an assertion; ours polls a condition.
import {
  afterRestart,
  holdingFetch,
  startClient,
  startServer,
  waitFor as until,
  type TestServer,
} from '@atomkv/test-support'
import { tokenAuth } from '@atomkv/server'

const text = (id: string) => screen.getByTestId(id).textContent
const eventually = (assertion: () => void) => waitFor(assertion, { timeout: 10_000 })

let server: TestServer
let client: AtomKVClient
let writer: AtomKVClient

beforeEach(async () => {
  server = await startServer()
  client = startClient(server.url, { cache: { releaseDelayMs: 20 } })
  writer = startClient(server.url)
})

describe('atomkv (Svelte 4 syntax: $store)', () => {
  it('renders the value and follows writes', async () => {
    await writer.set('/counter', 3)
    render(Counter, { client })
    await eventually(() => expect(text('counter')).toBe('ready:3:6'))
    await writer.set('/counter', 4)
    await eventually(() => expect(text('counter')).toBe('ready:4:8'))

    await fireEvent.click(screen.getByTestId('counter-set')) // $counter = 0
    await eventually(() => expect(text('counter')).toBe('ready:0:0'))
    expect(await writer.get('/counter')).toEqual([0, 2])
  })

  it('two components updating 50 times each, at once, end at exactly 100', async () => {
    render(Counter, { client, id: 'left' })
    render(Counter, { client: startClient(server.url), id: 'right' })
    await eventually(() => {
      expect(text('left')).toBe('ready::0')
      expect(text('right')).toBe('ready::0')
    })
    await Promise.all([
      fireEvent.click(screen.getByTestId('left-inc')),
      fireEvent.click(screen.getByTestId('right-inc')),
    ])
    await eventually(() => {
      expect(text('left')).toBe('ready:100:200')
      expect(text('right')).toBe('ready:100:200')
    })
    expect(await writer.get('/counter')).toEqual([100, 99])
  })

  it('closes the stream after the last subscriber leaves and the release delay', async () => {
    const view = render(Counter, { client })
    const second = render(Counter, { client, id: 'second' })
    await eventually(() => expect(text('second')).toBe('ready::0'))
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 1 })

    view.unmount()
    expect(client.cache.size).toBe(1) // the other component still watches
    second.unmount()
    await until(() => client.cache.size === 0, 'the key released')
    await until(() => server.atomkv.stats().streams === 0, 'the stream closed')
  })

  it('honours the store contract outside components', async () => {
    const store = atomkv<number>('/plain', { client, initialValue: -5 })
    const seen: Array<number | null> = []
    const stop = store.subscribe((value) => seen.push(value))
    expect(seen).toEqual([-5]) // at once, synchronously
    await until(() => get(store.status) === 'ready', 'ready')
    expect(seen).toEqual([-5]) // missing: still the initialValue, so nothing new to tell
    expect(get(store.revision)).toBe(-1)
    // For a missing key, the function gets the initialValue.
    const first = store.update((n) => n + 2)
    expect(seen.at(-1)).toBe(-3) // optimistic: at once
    expect(get(store.pending)).toBe(true)
    expect(await first).toBe(-3)
    expect(get(store.pending)).toBe(false)
    expect(await store.update(() => undefined)).toBeUndefined()
    // The contract's `update` is the retry loop, `modify`: one function under two names.
    expect(store.update).toBe(store.modify)
    expect(await store.modify((n) => n + 1)).toBe(-2)
    expect(seen.at(-1)).toBe(-2)
    expect(seen).toEqual([-5, -3, -2])
    stop()

    const invalid = atomkv('/not a key', { client })
    expect(get(invalid.status)).toBe('error')
    expect(get(invalid.error)?.code).toBe('invalid-key')
  })

  it("works on a server with access control through its client's token; a refusal shows as the store's error", async () => {
    const guarded = await startServer({ authorize: tokenAuth({ 'svelte-token-1': { read: ['/s/'], write: ['/s/'] } }) })
    const allowed = atomkv<number>('/s/n', { client: startClient(guarded.url, { token: () => 'svelte-token-1' }) })
    const stop = allowed.subscribe(() => {})
    await until(() => get(allowed.status) === 'ready', 'ready')
    expect(await allowed.modify((n) => (n ?? 0) + 1)).toBe(1)
    expect(get(allowed)).toBe(1)
    stop()

    const refused = atomkvPrefix('/other/', { client: startClient(guarded.url, { token: 'svelte-token-1' }) })
    const stopRefused = refused.subscribe(() => {})
    await until(() => get(refused.status) === 'error', 'the refusal')
    expect(get(refused.error)).toMatchObject({ code: 'forbidden', status: 403 })
    stopRefused()
  })

  it('needs a client: an argument or the context', () => {
    expect(() => atomkv('/x')).toThrow(/pass the client/)
  })
})

describe('atomkv (Svelte 5 runes: .current)', () => {
  it('renders and updates through .current', async () => {
    render(Runes, { client })
    expect(text('runes')).toBe('loading:0:0:-1') // initialValue while loading
    await eventually(() => expect(text('runes')).toBe('ready:0:0:-1')) // and for a missing key
    await writer.set('/score', 20)
    await eventually(() => expect(text('runes')).toBe('ready:20:40:0'))
    expect(text('runes-store')).toBe('20')
    await fireEvent.click(screen.getByTestId('runes-inc'))
    await eventually(() => expect(text('runes')).toBe('ready:21:42:1'))
  })

  it('reads .current without subscribing outside an effect', () => {
    const store = atomkv<number>('/untracked', { client })
    expect(store.current).toBeNull()
    expect(client.cache.size).toBe(0)
  })
})

describe('optimistic writes', () => {
  const pending = () => screen.getByTestId('clicks').dataset.pending

  it('shows each update at once, pending, then the server’s value', async () => {
    const held = holdingFetch()
    const clicker = startClient(server.url, { fetch: held.fetch, cache: { releaseDelayMs: 20 } })
    render(Pending, { client: clicker })
    await eventually(() => expect(text('clicks')).toBe('ready:0'))
    held.hold()
    for (let i = 1; i <= 3; i++) {
      await fireEvent.click(screen.getByTestId('clicks-inc'))
      expect(text('clicks')).toBe(`ready:${i}`)
      expect(pending()).toBe('true')
      expect(text('clicks-store-pending')).toBe('true')
    }
    held.release()
    await eventually(() => {
      expect(text('clicks')).toBe('ready:3')
      expect(pending()).toBe('false')
      expect(text('clicks-store-pending')).toBe('false')
    })
    expect((await writer.get('/clicks'))[0]).toBe(3) // in one write or more: modify() coalesces
  })

  it('falls back to the server’s value when the write is refused', async () => {
    const secured = await startServer({ authorize: tokenAuth({ 'reader-token-1': { read: ['/'] } }) })
    const held = holdingFetch()
    const reader = startClient(secured.url, { fetch: held.fetch, token: 'reader-token-1', cache: { releaseDelayMs: 20 } })
    render(Pending, { client: reader })
    await eventually(() => expect(text('clicks')).toBe('ready:0'))
    held.hold()
    await fireEvent.click(screen.getByTestId('clicks-inc'))
    expect(text('clicks')).toBe('ready:1')
    held.release()
    await eventually(() => expect(text('clicks-failures')).toBe('1'))
    expect(text('clicks')).toBe('ready:0')
    expect(pending()).toBe('false')
  })

  it('with optimistic: false, shows the write only once the server confirmed it', async () => {
    const held = holdingFetch()
    const clicker = startClient(server.url, { fetch: held.fetch, cache: { releaseDelayMs: 20 } })
    render(Pending, { client: clicker, optimistic: false })
    await eventually(() => expect(text('clicks')).toBe('ready:0'))
    held.hold()
    await fireEvent.click(screen.getByTestId('clicks-inc'))
    expect(text('clicks')).toBe('ready:0')
    expect(pending()).toBe('false')
    await until(() => held.waiting === 1, 'the write sent')
    held.release()
    await eventually(() => expect(text('clicks')).toBe('ready:1'))
  })

  it('$store = v shows at once too', async () => {
    const held = holdingFetch()
    const clicker = startClient(server.url, { fetch: held.fetch, cache: { releaseDelayMs: 20 } })
    render(Counter, { client: clicker })
    await eventually(() => expect(text('counter')).toBe('ready::0'))
    held.hold()
    await fireEvent.click(screen.getByTestId('counter-set')) // $counter = 0
    expect(text('counter')).toBe('ready:0:0')
    held.release()
    await until(async () => (await writer.get('/counter'))[0] === 0, 'stored')
  })
})

describe('a store that follows a changing key: $derived(atomkv(key))', () => {
  it('follows the prop and releases the old key', async () => {
    await writer.set('/notes/a', 'alpha')
    await writer.set('/notes/b', 'beta')
    const view = render(FollowApp, { client, path: '/notes/a' })
    await eventually(() => expect(text('follow')).toBe('/notes/a=alpha|alpha'))
    await view.rerender({ client, path: '/notes/b' })
    await eventually(() => expect(text('follow')).toBe('/notes/b=beta|beta'))
    await until(() => client.cache.observers('/notes/a') === 0, 'no listener left on the old key')
    await until(() => client.cache.size === 1 && server.atomkv.stats().subscriptions === 1, 'the old key released')
    // The new key is live; the old one no longer shows.
    await writer.set('/notes/a', 'ALPHA')
    await writer.set('/notes/b', 'BETA')
    await eventually(() => expect(text('follow')).toBe('/notes/b=BETA|BETA'))
    view.unmount()
    await until(() => client.cache.size === 0, 'everything released after unmount')
  })
})

describe('atomkvPrefix and atomkvStatus (client from context)', () => {
  it('is a live list, and the status follows the server stopping and starting', async () => {
    await writer.set('/board/a', 'first')
    render(BoardApp, { client })
    const board = () => screen.getByTestId('board')
    await eventually(() => expect(board().dataset.status).toBe('ready'))
    expect(board().textContent).toBe('/board/a=first@0')
    expect(board().dataset.connection).toBe('open')

    await writer.set('/board/b', 'second')
    await writer.set('/board/a', 'FIRST')
    await eventually(() => expect(board().textContent).toBe('/board/a=FIRST@1/board/b=second@0'))

    await server.close()
    await eventually(() => expect(board().dataset.connection).toBe('reconnecting'))
    await server.restart() // empty: the list is rebuilt from the new server's state
    await eventually(() => expect(board().dataset.connection).toBe('open'))
    await eventually(() => expect(board().textContent).toBe(''))
    await afterRestart(() => writer.set('/board/c', 'third'))
    await eventually(() => expect(board().textContent).toBe('/board/c=third@0'))
  })

  it('drops a deleted key from the list, and remove() deletes: $store becomes null', async () => {
    await writer.set('/board/a', 'first')
    await writer.set('/board/b', 'second')
    render(BoardApp, { client })
    const board = () => screen.getByTestId('board')
    await eventually(() => expect(board().textContent).toBe('/board/a=first@0/board/b=second@0'))
    expect(await writer.delete('/board/a')).toBe(true)
    await eventually(() => expect(board().textContent).toBe('/board/b=second@0'))

    const b = atomkv<string>('/board/b', { client })
    let latest: string | null | undefined
    const stop = b.subscribe((value) => (latest = value))
    await until(() => latest === 'second', 'the key loaded')
    expect(await b.remove({ revision: 5 })).toBe(false) // not its revision
    expect(await b.remove()).toBe(true)
    await until(() => latest === null, 'the key to read as missing')
    expect(get(b.revision)).toBe(-1)
    await eventually(() => expect(board().textContent).toBe(''))
    stop()
  })

  it('works as plain stores', async () => {
    await writer.set('/cards/1', 'x')
    const cards = atomkvPrefix<string>('/cards/', { client })
    const status = atomkvStatus({ client })
    const statuses: string[] = []
    const stopStatus = status.subscribe((s) => statuses.push(s))
    let latest: ReadonlyMap<string, { value: string }> = new Map()
    const stop = cards.subscribe((map) => (latest = map))
    await until(() => latest.size === 1, 'the initial state')
    expect(latest.get('/cards/1')?.value).toBe('x')
    expect(statuses).toContain('open')
    stop()
    stopStatus()
  })
})
