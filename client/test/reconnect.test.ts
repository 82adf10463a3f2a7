import { afterEach, describe, expect, it } from 'vitest'
import { AtomKVError } from '../src/index.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { gatedFetch, recorder, take } from './helpers.js'

/** A stand-in for the page's document and window, present only while a test needs it. */
const globals = globalThis as { document?: unknown; window?: unknown }
afterEach(() => {
  delete globals.document
  delete globals.window
})

/** Backoff so long that only a wake-up can bring the stream back within a test. */
const ASLEEP = { minDelayMs: 3_600_000, maxDelayMs: 3_600_000 }

describe('reconnection', () => {
  it('reconnects at once when the page becomes visible', async () => {
    const document = Object.assign(new EventTarget(), { visibilityState: 'hidden' })
    globals.document = document
    const server = await startServer()
    const kv = startClient(server.url, { retry: ASLEEP })
    const sub = kv.subscribe('/v')
    await sub.ready
    server.atomkv.closeStreams()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    document.dispatchEvent(new Event('visibilitychange')) // still hidden: nothing happens
    await kv.set('/v', 'missed while away')
    expect(kv.status).toBe('reconnecting')
    document.visibilityState = 'visible'
    document.dispatchEvent(new Event('visibilitychange'))
    await waitFor(() => kv.status === 'open', 'the stream to come back')
    expect(await take(sub, 1)).toEqual([['/v', 'missed while away', 0]])
  })

  it('reconnects at once when the browser comes back online', async () => {
    const window = new EventTarget()
    globals.window = window
    const server = await startServer()
    const kv = startClient(server.url, { retry: ASLEEP })
    const sub = kv.subscribe('/o')
    await sub.ready
    server.atomkv.closeStreams()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    window.dispatchEvent(new Event('online'))
    await waitFor(() => kv.status === 'open', 'the stream to come back')
    kv.close()
    expect(kv.status).toBe('closed')
  })

  it('retries a failing server with backoff until it answers', async () => {
    const server = await startServer()
    let failures = 3
    const gate = gatedFetch(async (input, init) => {
      if (String(input).includes('/.stream') && failures-- > 0) return new Response('busy', { status: 503 })
      return fetch(input, init)
    })
    const kv = startClient(server.url, { fetch: gate.fetch })
    const sub = kv.subscribe('/busy')
    await sub.ready
    expect(gate.streamRequests).toHaveLength(4)
    await kv.set('/busy', 1)
    expect(await take(sub, 1)).toEqual([['/busy', 1, 0]])
  })

  it('retries a 200 answer that is not an event stream (a proxy\'s page), never reading it as events', async () => {
    const server = await startServer()
    let pages = 2
    // A page whose text happens to parse as a stream: ready, then a write of the watched key.
    const page = 'event:ready\nid:\n\nid:/proxied:7\ndata:"from the page"\n\n'
    const gate = gatedFetch(async (input, init) => {
      if (!String(input).includes('/.stream') || pages-- <= 0) return fetch(input, init)
      return new Response(page, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } })
    })
    const kv = startClient(server.url, { fetch: gate.fetch })
    const watched = recorder()
    kv.watch('/proxied', watched.listener)
    await waitFor(() => watched.types().includes('ready'), 'the real stream')
    expect(gate.streamRequests).toHaveLength(3)
    await kv.set('/proxied', 'real')
    await waitFor(() => watched.state.size === 1, 'the write')
    expect(watched.types()).toEqual(['ready', '/proxied:0'])
  })

  it('replaces a stream that stays silent past idleTimeoutMs, losing nothing', async () => {
    const server = await startServer({ heartbeatMs: 0 })
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch, retry: { minDelayMs: 10, maxDelayMs: 50 }, idleTimeoutMs: 150 })
    const sub = kv.subscribe<number>('/idle')
    await sub.ready
    await waitFor(() => gate.streamRequests.length >= 3, 'two replacements')
    await kv.set('/idle', 1)
    expect(await take(sub, 1)).toEqual([['/idle', 1, 0]])
    expect(server.atomkv.stats().streams).toBe(1)
  })

  it('gives up on its subscriptions when an event keeps coming larger than maxEventSize', async () => {
    const server = await startServer()
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch, maxEventSize: 1000 })
    const watched = recorder()
    kv.watch('/large/', watched.listener)
    const sub = kv.subscribe('/large/')
    await sub.ready
    await kv.set('/large/ok', 'x'.repeat(500))
    await kv.set('/large/big', 'x'.repeat(5000))
    const error = await take(sub, 2).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomKVError)
    expect(error).toMatchObject({ code: 'too-large' })
    await waitFor(() => watched.types().includes('error'), 'the watcher to hear of it')
    expect(watched.types()).toEqual(['ready', '/large/ok:0', 'error'])
    expect(gate.streamRequests).toHaveLength(2) // one retry, then no loop
    expect(kv.status).toBe('closed')
  })
})
