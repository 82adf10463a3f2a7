import { act } from '@testing-library/react'
import { hydrateRoot } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { beforeEach, expect, it } from 'vitest'
import { prefetch } from '@atomkv/client'
import { Suspense } from 'react'
import { AtomKVProvider, useAtomKV, useAtomKVPrefix, useAtomKVStatus, useAtomKVSuspense } from '../src/index.js'
import { startClient, startServer, type TestServer } from '@atomkv/test-support'

let server: TestServer
let requests: string[]
const countingFetch: typeof fetch = (input, init) => {
  requests.push(String(input))
  return fetch(input, init)
}

beforeEach(async () => {
  requests = []
  server = await startServer()
  await startClient(server.url).set('/counter', 5)
})

function App() {
  const counter = useAtomKV<number>('/counter', { initialValue: 0 })
  const bare = useAtomKV('/bare')
  const list = useAtomKVPrefix('/items/')
  const status = useAtomKVStatus()
  return (
    <p id="app">
      {`counter=${counter.status}:${counter.value} bare=${bare.status}:${bare.value} items=${list.status}:${list.entries.size} ${status}`}
    </p>
  )
}

it('renders loading (or initialValue) on the server and makes no request', async () => {
  const client = startClient(server.url, { fetch: countingFetch })
  const html = renderToString(
    <AtomKVProvider client={client}>
      <App />
    </AtomKVProvider>,
  )
  expect(html).toContain('counter=loading:0 bare=loading:null items=loading:0 connecting')

  const fromUrl = renderToString(
    <AtomKVProvider url={server.url}>
      <App />
    </AtomKVProvider>,
  )
  expect(fromUrl).toBe(html)

  // Nothing subscribed, nothing asked: a request would have been made synchronously by now.
  expect(requests).toEqual([])
  expect(client.cache.size).toBe(0)
  expect(client.status).toBe('closed')
  expect(server.atomkv.stats().streams).toBe(0)
})

it('hydrates the server markup, then goes live', async () => {
  const html = renderToString(
    <AtomKVProvider client={startClient(server.url, { fetch: countingFetch })}>
      <App />
    </AtomKVProvider>,
  )
  const container = document.createElement('div')
  container.innerHTML = html
  document.body.append(container)
  const errors: unknown[] = []
  const browserClient = startClient(server.url)
  const root = await act(async () =>
    hydrateRoot(
      container,
      <AtomKVProvider client={browserClient}>
        <App />
      </AtomKVProvider>,
      { onRecoverableError: (error) => errors.push(error) },
    ),
  )
  await expect
    .poll(() => container.textContent, { timeout: 10_000 })
    .toBe('counter=ready:5 bare=ready:null items=ready:0 open')
  expect(errors).toEqual([]) // no hydration mismatch
  expect(requests).toEqual([]) // the server render's client never spoke
  act(() => root.unmount())
  container.remove()
})

it('prefetches on the server: both renders show the values, the browser never loads nor reads them again', async () => {
  await startClient(server.url).set('/bare', 'there')
  // On the server: read the keys, render with them.
  const data = await prefetch(startClient(server.url), ['/counter', '/bare', '/nothing'])
  expect(data).toEqual({ '/counter': [5, 0], '/bare': ['there', 0], '/nothing': [null, -1] })
  function Page() {
    const counter = useAtomKV<number>('/counter')
    const bare = useAtomKV<string>('/bare')
    const nothing = useAtomKV('/nothing')
    seen.push(`${counter.status}:${counter.value} ${bare.status}:${bare.value} ${nothing.status}:${nothing.value}`)
    return <p id="page">{seen.at(-1)}</p>
  }
  const seen: string[] = []
  const html = renderToString(
    <AtomKVProvider client={startClient(server.url)} initialData={data}>
      <Page />
    </AtomKVProvider>,
  )
  expect(html).toContain('ready:5 ready:there ready:null')

  // In the browser: hydrate with the same data (as a page would embed it).
  const container = document.createElement('div')
  container.innerHTML = html
  document.body.append(container)
  seen.length = 0
  const errors: unknown[] = []
  const browser = startClient(server.url, { fetch: countingFetch })
  const root = await act(async () =>
    hydrateRoot(
      container,
      <AtomKVProvider client={browser} initialData={JSON.parse(JSON.stringify(data))}>
        <Page />
      </AtomKVProvider>,
      { onRecoverableError: (error) => errors.push(error) },
    ),
  )
  await expect.poll(() => browser.status, { timeout: 10_000 }).toBe('open')
  await startClient(server.url).set('/counter', 6)
  await expect.poll(() => container.textContent, { timeout: 10_000 }).toBe('ready:6 ready:there ready:null')
  expect(errors).toEqual([]) // no hydration mismatch
  expect(seen.every((line) => !line.includes('loading'))).toBe(true) // never a loading state
  expect(requests.filter((r) => !r.includes('/.stream'))).toEqual([]) // no second read: only the stream
  act(() => root.unmount())
  container.remove()
})

it('suspends until a key loads, then shows it; with prefetched data it does not suspend', async () => {
  function Counter() {
    const { value, status } = useAtomKVSuspense<number>('/counter')
    return <p>{`${status}:${value}`}</p>
  }
  const container = document.createElement('div')
  document.body.append(container)
  const { createRoot } = await import('react-dom/client')
  const root = createRoot(container)
  await act(async () =>
    root.render(
      <AtomKVProvider client={startClient(server.url)}>
        <Suspense fallback={<p>waiting</p>}>
          <Counter />
        </Suspense>
      </AtomKVProvider>,
    ),
  )
  expect(['waiting', 'ready:5']).toContain(container.textContent)
  await expect.poll(() => container.textContent, { timeout: 10_000 }).toBe('ready:5')

  const data = await prefetch(startClient(server.url), ['/counter'])
  const html = renderToString(
    <AtomKVProvider client={startClient(server.url)} initialData={data}>
      <Suspense fallback={<p>waiting</p>}>
        <Counter />
      </Suspense>
    </AtomKVProvider>,
  )
  expect(html).toContain('ready:5')
  expect(html).not.toContain('waiting')
  act(() => root.unmount())
  container.remove()
})
