import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { get } from 'svelte/store'
import { beforeEach, describe, expect, it } from 'vitest'
import type { AtomKVClient } from '@atomkv/client'
import { atomkv, atomkvPrefix, atomkvStatus } from '../src/index.js'
import BoardApp from './BoardApp.svelte'
import Counter from './Counter.svelte'
import Runes from './Runes.svelte'
// Testing Library's waitFor retries an assertion; ours polls a condition.
import { afterRestart, startClient, startServer, waitFor as until, type TestServer } from '@atomkv/test-support'
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
    expect(seen).toEqual([-5, null])
    expect(get(store.revision)).toBe(-1)
    expect(await store.update((n) => (n ?? 0) + 2)).toBe(2)
    expect(seen.at(-1)).toBe(2)
    expect(await store.update(() => undefined)).toBeUndefined()
    // The contract's `update` is the retry loop, `modify`: one function under two names.
    expect(store.update).toBe(store.modify)
    expect(await store.modify((n) => (n ?? 0) + 1)).toBe(3)
    expect(seen.at(-1)).toBe(3)
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
    await eventually(() => expect(text('runes')).toBe('ready::0:-1'))
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
