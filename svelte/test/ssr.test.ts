// @vitest-environment node
// Server rendering, as in SvelteKit's server: Svelte's server build, esm-env's
// BROWSER false. The stores never subscribe there; they show what their
// client's cache holds, which `cache.hydrate()` fills from a load's prefetch.

import { render } from 'svelte/server'
import { beforeEach, expect, it } from 'vitest'
import { prefetch, type Prefetched } from '@atomkv/client'
import { startClient, startServer, type TestServer } from '@atomkv/test-support'
import HydratedApp from './HydratedApp.svelte'

let server: TestServer
let requests: string[]
const countingFetch: typeof fetch = (input, init) => {
  requests.push(String(input))
  return fetch(input, init)
}

beforeEach(async () => {
  requests = []
  server = await startServer()
  const writer = startClient(server.url)
  await writer.set('/counter', 5)
  await writer.set('/bare', 'there')
})

/** One request's render: its own client, given the data its load read. */
function renderPage(data: Prefetched): string {
  const client = startClient(server.url, { fetch: countingFetch })
  const { body } = render(HydratedApp, { props: { client, data } })
  expect(client.status).toBe('closed') // nothing subscribed...
  return body.replace(/<!--.*?-->/g, '').replace(/\s+/g, ' ').trim()
}

it('shows the hydrated values, a missing key as missing, and makes no request', async () => {
  const data = await prefetch(startClient(server.url), ['/counter', '/bare', '/nothing'])
  expect(renderPage(data)).toBe('<p>counter=ready:5@0 bare=ready:"there" nothing=ready:null@-1</p>')
  expect(requests).toEqual([]) // ...and nothing asked
  expect(server.atomkv.stats().streams).toBe(0)
})

it('shows a missing key through its initialValue, and a key not read as loading', async () => {
  const data = await prefetch(startClient(server.url), ['/counter', '/nothing'])
  await startClient(server.url).delete('/counter')
  const missing = await prefetch(startClient(server.url), ['/counter'])
  expect(renderPage({ ...data, ...missing })).toBe('<p>counter=ready:0@-1 bare=loading:null nothing=ready:null@-1</p>')
  expect(renderPage({})).toBe('<p>counter=loading:0@-1 bare=loading:null nothing=loading:null@-1</p>')
  expect(requests).toEqual([])
})
