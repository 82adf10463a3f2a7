import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { StrictMode, useState, type ReactNode } from 'react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AtomKVClient, ClientOptions } from '@atomkv/client'
import {
  AtomKVProvider,
  useAtomKV,
  useAtomKVClient,
  useAtomKVPrefix,
  useAtomKVStatus,
  type UseAtomKVResult,
} from '../src/index.js'
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

// Render counts by component id: the proof that a component did (not) re-render.
let renders: Record<string, number> = {}
const rendered = (id: string) => (renders[id] = (renders[id] ?? 0) + 1)

/** The latest hook result of each `Show`, to call its `modify` from the test. */
let states: Record<string, UseAtomKVResult<number>> = {}

function Show({ id, k }: { id: string; k: string }) {
  rendered(id)
  const state = useAtomKV<number>(k)
  states[id] = state
  return (
    <p data-testid={id}>
      {state.status}:{JSON.stringify(state.value)}@{state.revision}
    </p>
  )
}

const text = (id: string) => screen.getByTestId(id).textContent
const eventually = (assertion: () => void) => waitFor(assertion, { timeout: 10_000 })

let server: TestServer
let client: AtomKVClient
let writer: AtomKVClient

function withClient(children: ReactNode, c: AtomKVClient = client) {
  return <AtomKVProvider client={c}>{children}</AtomKVProvider>
}

/** A client of the test server whose cache lets go of a key 20 ms after its last component. */
const fastClient = (options: Partial<ClientOptions> = {}) =>
  startClient(server.url, { cache: { releaseDelayMs: 20 }, ...options })

beforeEach(async () => {
  renders = {}
  states = {}
  server = await startServer()
  client = fastClient()
  writer = startClient(server.url)
})

afterEach(() => cleanup())

describe('useAtomKV', () => {
  it('keeps two components on one key in sync, and never re-renders one on another key', async () => {
    await writer.set('/a', 1)
    await writer.set('/b', 1)
    render(
      withClient(
        <>
          <Show id="a1" k="/a" />
          <Show id="a2" k="/a" />
          <Show id="b" k="/b" />
        </>,
      ),
    )
    await eventually(() => {
      expect(text('a1')).toBe('ready:1@0')
      expect(text('a2')).toBe('ready:1@0')
      expect(text('b')).toBe('ready:1@0')
    })
    expect(client.cache.size).toBe(2) // one per key, shared by its components
    expect(server.atomkv.stats().subscriptions).toBe(2)
    const bRenders = renders.b

    await writer.set('/a', 2) // another client's write
    await eventually(() => {
      expect(text('a1')).toBe('ready:2@1')
      expect(text('a2')).toBe('ready:2@1')
    })
    expect(renders.b).toBe(bRenders)

    // A write from one component shows in the other.
    await act(() => states.a1!.modify((n) => (n ?? 0) + 10))
    await eventually(() => expect(text('a2')).toBe('ready:12@2'))
    expect(renders.b).toBe(bRenders)
  })

  it('shows a missing key as null, revision -1, ready; initialValue while loading and for a missing key', async () => {
    function WithInitial() {
      const { value, status, revision } = useAtomKV('/missing', { initialValue: 42 })
      return <p data-testid="initial">{`${status}:${value}@${revision}`}</p>
    }
    render(withClient(<><WithInitial /><Show id="plain" k="/missing" /></>))
    expect(text('initial')).toBe('loading:42@-1') // the first render, before any answer
    await eventually(() => expect(text('plain')).toBe('ready:null@-1'))
    expect(text('initial')).toBe('ready:42@-1')
    await writer.set('/missing', 7)
    await eventually(() => expect(text('initial')).toBe('ready:7@0'))
    await writer.delete('/missing')
    await eventually(() => expect(text('initial')).toBe('ready:42@-1'))
  })

  it('select re-renders only when the slice changes', async () => {
    interface Todo {
      title: string
      done: boolean
    }
    await writer.set('/todo', { title: 'milk', done: false })
    function Title() {
      rendered('title')
      const { value } = useAtomKV('/todo', { select: (todo: Todo | null) => todo?.title ?? '' })
      return <p data-testid="title">{value}</p>
    }
    function Whole() {
      rendered('whole')
      const { value } = useAtomKV<Todo>('/todo')
      return <p data-testid="whole">{JSON.stringify(value)}</p>
    }
    render(
      withClient(
        <>
          <Title />
          <Whole />
        </>,
      ),
    )
    await eventually(() => expect(text('title')).toBe('milk'))
    const titleRenders = renders.title!
    const wholeRenders = renders.whole!

    await writer.set('/todo', { title: 'milk', done: true })
    await eventually(() => expect(text('whole')).toContain('"done":true'))
    // React may batch or repeat a render; what matters is that the whole value rendered and the slice did not.
    expect(renders.whole).toBeGreaterThan(wholeRenders)
    expect(renders.whole).toBeLessThanOrEqual(wholeRenders + 2)
    expect(renders.title).toBe(titleRenders) // same slice: no render

    await writer.set('/todo', { title: 'bread', done: true })
    await eventually(() => expect(text('title')).toBe('bread'))
    expect(renders.title).toBeGreaterThan(titleRenders)
    expect(renders.title).toBeLessThanOrEqual(titleRenders + 2)
  })

  it('select with isEqual compares slices structurally', async () => {
    await writer.set('/pos', { x: 1, y: 1, t: 0 })
    function Pos() {
      rendered('pos')
      const { value } = useAtomKV('/pos', {
        select: (p: { x: number; y: number; t: number } | null) => [p?.x, p?.y],
        isEqual: (a, b) => a[0] === b[0] && a[1] === b[1],
      })
      return <p data-testid="pos">{value.join(',')}</p>
    }
    render(withClient(<Pos />))
    await eventually(() => expect(text('pos')).toBe('1,1'))
    const count = renders.pos!
    await writer.set('/pos', { x: 1, y: 1, t: 1 })
    await writer.set('/pos', { x: 2, y: 1, t: 2 })
    await eventually(() => expect(text('pos')).toBe('2,1'))
    expect(renders.pos).toBe(count + 1)
  })

  it('two renderers modifying 50 times each, at once, end at exactly 100', async () => {
    const other = fastClient()
    render(withClient(<Show id="left" k="/counter" />))
    render(withClient(<Show id="right" k="/counter" />, other))
    await eventually(() => {
      expect(text('left')).toBe('ready:null@-1')
      expect(text('right')).toBe('ready:null@-1')
    })
    const run = async (id: string) => {
      for (let i = 0; i < 50; i++) {
        const committed = await states[id]!.modify((n) => (n ?? 0) + 1)
        expect(committed).toBeGreaterThan(0)
      }
    }
    await act(() => Promise.all([run('left'), run('right')]))
    await eventually(() => {
      expect(text('left')).toBe('ready:100@99')
      expect(text('right')).toBe('ready:100@99')
    })
    expect(await writer.get('/counter')).toEqual([100, 99])
  })

  it('follows a change of key, releasing the old one', async () => {
    await writer.set('/page/1', 1)
    await writer.set('/page/2', 2)
    const view = render(withClient(<Show id="page" k="/page/1" />))
    await eventually(() => expect(text('page')).toBe('ready:1@0'))
    view.rerender(withClient(<Show id="page" k="/page/2" />))
    await eventually(() => expect(text('page')).toBe('ready:2@0'))
    await until(() => client.cache.observers('/page/1') === 0 && client.cache.size === 1, 'the old key released')
    await until(() => server.atomkv.stats().subscriptions === 1, 'one subscription left')
  })

  it('throws a clear error outside a provider', () => {
    function Orphan() {
      useAtomKV('/x')
      return null
    }
    const quiet = console.error
    console.error = () => {}
    try {
      expect(() => render(<Orphan />)).toThrow(/inside <AtomKVProvider/)
    } finally {
      console.error = quiet
    }
  })
})

describe('optimistic writes', () => {
  /** A counter whose clicks are `modify(+1)`; shows `value`, and pending as an attribute. */
  function Counter({ id, optimistic }: { id: string; optimistic?: boolean }) {
    const { value, pending, status, modify } = useAtomKV('/clicks', { initialValue: 0, optimistic })
    const [failures, setFailures] = useState(0)
    return (
      <>
        <p data-testid={id} data-pending={pending}>
          {status}:{value}
        </p>
        <button data-testid={`${id}-inc`} onClick={() => modify((n) => n + 1).catch(() => setFailures((f) => f + 1))} />
        <span data-testid={`${id}-failures`}>{failures}</span>
      </>
    )
  }

  const pending = (id: string) => screen.getByTestId(id).dataset.pending

  it('shows each click at once, pending, on every component of the key; then the server’s value', async () => {
    const held = holdingFetch()
    const clicker = fastClient({ fetch: held.fetch })
    render(withClient(<><Counter id="a" /><Counter id="b" /></>, clicker))
    render(withClient(<Counter id="elsewhere" />)) // another client: sees only what the server confirms
    await eventually(() => expect(text('a')).toBe('ready:0'))
    await eventually(() => expect(text('elsewhere')).toBe('ready:0'))
    held.hold()
    for (let i = 1; i <= 3; i++) {
      fireEvent.click(screen.getByTestId('a-inc'))
      // The click's own render: no waiting for the server.
      expect(text('a')).toBe(`ready:${i}`)
      expect(text('b')).toBe(`ready:${i}`)
      expect(pending('a')).toBe('true')
    }
    expect(text('elsewhere')).toBe('ready:0')
    act(() => held.release())
    await eventually(() => {
      expect(text('a')).toBe('ready:3')
      expect(pending('a')).toBe('false')
      expect(text('elsewhere')).toBe('ready:3')
    })
    expect((await writer.get('/clicks'))[0]).toBe(3) // in one write or more: modify() coalesces
  })

  it('falls back to the server’s value when the write is refused', async () => {
    const secured = await startServer({ authorize: tokenAuth({ 'reader-token-1': { read: ['/'] } }) })
    const held = holdingFetch()
    const reader = startClient(secured.url, { fetch: held.fetch, token: 'reader-token-1', cache: { releaseDelayMs: 20 } })
    render(withClient(<Counter id="a" />, reader))
    await eventually(() => expect(text('a')).toBe('ready:0'))
    held.hold()
    fireEvent.click(screen.getByTestId('a-inc'))
    expect(text('a')).toBe('ready:1')
    expect(pending('a')).toBe('true')
    act(() => held.release())
    await eventually(() => expect(text('a-failures')).toBe('1'))
    expect(text('a')).toBe('ready:0')
    expect(pending('a')).toBe('false')
  })

  it('with optimistic: false, shows the write only once the server confirmed it', async () => {
    const held = holdingFetch()
    const clicker = fastClient({ fetch: held.fetch })
    render(withClient(<Counter id="a" optimistic={false} />, clicker))
    await eventually(() => expect(text('a')).toBe('ready:0'))
    held.hold()
    fireEvent.click(screen.getByTestId('a-inc'))
    expect(text('a')).toBe('ready:0')
    expect(pending('a')).toBe('false')
    await until(() => held.waiting === 1, 'the write sent')
    act(() => held.release())
    await eventually(() => expect(text('a')).toBe('ready:1'))
  })
})

describe('subscriptions', () => {
  it('StrictMode: one subscription per key while mounted, none after unmount and the delay', async () => {
    const streams: string[] = []
    const counted = fastClient({
      fetch: (input, init) => {
        if (String(input).includes('/.stream')) streams.push(String(input))
        return fetch(input, init)
      },
    })
    const view = render(
      <StrictMode>
        {withClient(
          <>
            <Show id="s1" k="/s/1" />
            <Show id="s1b" k="/s/1" />
            <Show id="s2" k="/s/2" />
          </>,
          counted,
        )}
      </StrictMode>,
    )
    await eventually(() => expect(text('s2')).toBe('ready:null@-1'))
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 2 })
    expect(counted.cache.size).toBe(2)
    expect(counted.cache.observers('/s/1')).toBe(2)
    expect(streams).toHaveLength(1) // the double mount did not reopen the stream

    view.unmount()
    await until(() => counted.cache.size === 0, 'the keys released')
    await until(() => server.atomkv.stats().streams === 0, 'the stream closed')
    expect(server.atomkv.stats().subscriptions).toBe(0)
  })

  it('20 components on 20 keys share one stream and each gets its updates', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => i)
    render(withClient(ids.map((i) => <Show key={i} id={`k${i}`} k={`/many/${i}`} />)))
    await eventually(() => {
      for (const i of ids) expect(text(`k${i}`)).toBe('ready:null@-1')
    })
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 20 })

    await Promise.all(ids.map((i) => writer.set(`/many/${i}`, i * i)))
    await eventually(() => {
      for (const i of ids) expect(text(`k${i}`)).toBe(`ready:${i * i}@0`)
    })
    // Each component rendered for its own key's changes only: mount, ready, the write (StrictMode is off).
    for (const i of ids) expect(renders[`k${i}`]).toBe(3)
    expect(server.atomkv.stats().streams).toBe(1)
  })

  it('a provider made from a url makes its client and closes it on unmount', async () => {
    function Probe() {
      const client = useAtomKVClient()
      return <p data-testid="url">{typeof client.watch}</p>
    }
    const view = render(
      <StrictMode>
        <AtomKVProvider url={server.url}>
          <Probe />
          <Show id="u" k="/u" />
        </AtomKVProvider>
      </StrictMode>,
    )
    expect(text('url')).toBe('function')
    await eventually(() => expect(text('u')).toBe('ready:null@-1'))
    expect(server.atomkv.stats().streams).toBe(1)
    view.unmount()
    await until(() => server.atomkv.stats().streams === 0, 'the owned client closed')
  })

  it('a provider made from a url passes its token on, the latest one at each request', async () => {
    const guarded = await startServer({ authorize: tokenAuth({ 'react-token-1': { read: ['/r/'], write: ['/r/'] } }) })
    const seen: (string | undefined)[] = []
    const provider = (token: string | undefined) => (
      <AtomKVProvider url={guarded.url} token={() => (seen.push(token), token)}>
        <Show id="t" k="/r/n" />
      </AtomKVProvider>
    )
    const view = render(provider('react-token-1'))
    await eventually(() => expect(text('t')).toBe('ready:null@-1'))
    await act(() => states.t!.modify(() => 1))
    await eventually(() => expect(text('t')).toBe('ready:1@0'))
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((token) => token === 'react-token-1')).toBe(true)
    // Another token (the same client): the next request carries it, and is refused.
    view.rerender(provider('not-a-valid-token'))
    await expect(states.t!.modify(() => 2)).rejects.toMatchObject({ code: 'unauthenticated' })
    expect(text('t')).toBe('ready:1@0')
  })
})

describe('useAtomKVPrefix', () => {
  it('is a live list of every key under the prefix', async () => {
    await writer.set('/todos/1', 'one')
    function List() {
      rendered('list')
      const { entries, status } = useAtomKVPrefix<string>('/todos/')
      return (
        <ul data-testid="list" data-status={status}>
          {[...entries].map(([key, { value, revision }]) => (
            <li key={key}>{`${key}=${value}@${revision}`}</li>
          ))}
        </ul>
      )
    }
    render(withClient(<List />))
    await eventually(() => expect(screen.getByTestId('list').dataset.status).toBe('ready'))
    expect(text('list')).toBe('/todos/1=one@0')
    await writer.set('/todos/2', 'two')
    await writer.set('/todos/1', 'ONE')
    await eventually(() => expect(text('list')).toBe('/todos/1=ONE@1/todos/2=two@0'))
  })
})

describe('deletes', () => {
  it('remove() deletes the key: every component shows it missing, and the prefix list drops it', async () => {
    await writer.set('/items/1', 'one')
    await writer.set('/items/2', 'two')
    function List() {
      const { entries, status } = useAtomKVPrefix<string>('/items/')
      return (
        <ul data-testid="list" data-status={status}>
          {[...entries].map(([key, { value }]) => (
            <li key={key}>{`${key}=${value}`}</li>
          ))}
        </ul>
      )
    }
    render(
      withClient(
        <>
          <Show id="a" k="/items/1" />
          <Show id="b" k="/items/1" />
          <List />
        </>,
      ),
    )
    await eventually(() => expect(text('list')).toBe('/items/1=one/items/2=two'))
    await eventually(() => expect(text('a')).toBe('ready:"one"@0'))
    let removed: boolean | undefined
    await act(async () => {
      removed = await states.a!.remove()
    })
    expect(removed).toBe(true)
    await eventually(() => expect(text('list')).toBe('/items/2=two'))
    await eventually(() => expect(text('a')).toBe('ready:null@-1'))
    expect(text('b')).toBe('ready:null@-1')
    // Deleted by someone else, with compare-and-delete: the same.
    await writer.set('/items/1', 'again')
    await eventually(() => expect(text('b')).toBe('ready:"again"@0'))
    expect(await writer.delete('/items/1', { revision: 0 })).toBe(true)
    await eventually(() => expect(text('b')).toBe('ready:null@-1'))
    expect(await states.b!.remove()).toBe(false) // already missing
    expect(text('list')).toBe('/items/2=two')
  })
})

describe('useAtomKVStatus', () => {
  it('follows the server going away and coming back', async () => {
    function Status() {
      const status = useAtomKVStatus()
      const { value } = useAtomKV<number>('/live')
      return <p data-testid="status">{`${status}:${value}`}</p>
    }
    render(withClient(<Status />))
    await eventually(() => expect(text('status')).toBe('open:null'))

    await server.close()
    await eventually(() => expect(text('status')).toMatch(/^reconnecting:/))

    await server.restart()
    await eventually(() => expect(text('status')).toMatch(/^open:/))
    await afterRestart(() => writer.set('/live', 7))
    await eventually(() => expect(text('status')).toBe('open:7'))
  })
})
