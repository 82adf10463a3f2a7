import { act } from '@testing-library/react'
import { hydrateRoot } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { beforeEach, expect, it } from 'vitest'
import { AtomKVProvider, useAtomKV, useAtomKVPrefix, useAtomKVStatus } from '../src/index.js'
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
