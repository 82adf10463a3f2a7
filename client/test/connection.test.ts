import { describe, expect, it } from 'vitest'
import { AtomKVError } from '../src/index.js'
import { DEFAULT_MAX_SUBSCRIPTIONS as MAX_SUBSCRIPTIONS } from '../src/protocol/index.js'
import { lateSnapshotStore, startClient, startServer, waitFor } from '@atomkv/test-support'
import { countingFetch, recorder, take } from './helpers.js'

describe('one connection per client', () => {
  it('carries 20 keys and 2 prefixes on one stream and delivers every update', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    const writer = startClient(server.url)
    const keys = Array.from({ length: 20 }, (_, i) => `/k/${i}`)
    const subs = [...keys, '/p/', '/q/'].map((path) => kv.subscribe<number>(path))
    await Promise.all(subs.map((sub) => sub.ready))
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 22 })
    expect(counter.streams()).toHaveLength(1) // all subscribed in one tick: one open

    for (const [i, key] of keys.entries()) await writer.set(key, i)
    await writer.set('/p/x', 'p')
    await writer.set('/q/y/z', 'q')
    for (const [i, key] of keys.entries()) expect(await take(subs[i]!, 1)).toEqual([[key, i, 0]])
    expect(await take(subs[20]!, 1)).toEqual([['/p/x', 'p', 0]])
    expect(await take(subs[21]!, 1)).toEqual([['/q/y/z', 'q', 0]])
    expect(server.atomkv.stats().streams).toBe(1)
  })

  it('reopens once per tick of changes, and existing subscriptions lose nothing across reopens', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    const writer = startClient(server.url)
    const steady = kv.subscribe<number>('/steady')
    await steady.ready
    expect(counter.streams()).toHaveLength(1)

    // Writes go on while subscriptions come and go.
    let writing = true
    let written = 0
    const writes = (async () => {
      while (writing) await writer.set('/steady', written++)
    })()
    for (let round = 0; round < 5; round++) {
      const before = counter.streams().length
      const added = ['/a', '/b', '/c/'].map((path) => kv.subscribe(path + round))
      await Promise.all(added.map((sub) => sub.ready))
      expect(counter.streams().length - before).toBe(1)
      await Promise.all(added.map((sub) => sub.return()))
      await waitFor(() => server.atomkv.stats().subscriptions === 1, 'the stream to drop the removed paths')
    }
    writing = false
    await writes
    const revisions = (await take(steady, written)).map(([, , revision]) => revision)
    expect(revisions).toEqual(Array.from({ length: written }, (_, i) => i))
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 1 })
  })

  for (const [name, options] of [
    ['on a fresh server (no event yet to resume from)', {}],
    ['on a server that keeps no backlog', { backlog: { maxEvents: 0 } }],
  ] as const) {
    it(`reopens without losing writes in flight ${name}`, async () => {
      const server = await startServer(options)
      const counter = countingFetch()
      const kv = startClient(server.url, { fetch: counter.fetch })
      const writer = startClient(server.url)
      const steady = kv.subscribe<number>('/steady')
      await steady.ready
      for (let round = 0; round < 3; round++) {
        // Writes in flight while the stream is reopened for another subscription.
        const writes = Promise.all(Array.from({ length: 20 }, (_, i) => writer.set('/steady', i)))
        const added = kv.subscribe(`/other${round}`)
        await added.ready
        await writes
      }
      const revisions = (await take(steady, 60)).map(([, , revision]) => revision)
      expect(revisions).toEqual(Array.from({ length: 60 }, (_, i) => i))
      expect(counter.streams()).toHaveLength(4)
      await waitFor(() => server.atomkv.stats().streams === 1, 'the old streams to close')
    })
  }

  it('loses no write in a handover whose new stream reads its snapshot late', async () => {
    // No backlog: nothing to resume from, so each reopen hands over (see src/connection/handover.ts).
    const late = lateSnapshotStore()
    late.release()
    const server = await startServer({ store: late.store, backlog: { maxEvents: 0 } })
    const kv = startClient(server.url)
    const steady = kv.subscribe<number>('/steady')
    await steady.ready
    late.hold()
    const added = kv.subscribe('/added')
    // Writes land between the new stream's start (which retires the old one) and its late snapshot.
    await waitFor(() => late.waiting > 0, 'the new stream to read its snapshot')
    for (let i = 0; i < 10; i++) await server.atomkv.store.set('/steady', String(i))
    late.release()
    await added.ready
    const revisions = (await take(steady, 10)).map(([, , revision]) => revision)
    expect(revisions).toEqual(Array.from({ length: 10 }, (_, i) => i))
  })

  it('shares a path among its listeners: one server subscription, each listener served', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const a = kv.subscribe('/shared')
    await a.ready
    const b = kv.subscribe('/shared')
    const watched = recorder()
    const stop = kv.watch('/shared', watched.listener)
    await b.ready
    await waitFor(() => watched.events.length === 1, 'ready')
    expect(server.atomkv.stats().subscriptions).toBe(1)
    await kv.set('/shared', 'x')
    expect(await take(a, 1)).toEqual([['/shared', 'x', 0]])
    expect(await take(b, 1)).toEqual([['/shared', 'x', 0]])
    await waitFor(() => watched.types().join() === 'ready,/shared:0', 'the watcher')
    await a.return()
    stop()
    await kv.set('/shared', 'y')
    expect(await take(b, 1)).toEqual([['/shared', 'y', 1]])
    expect(watched.types()).toEqual(['ready', '/shared:0'])
  })

  it(`refuses more than ${MAX_SUBSCRIPTIONS} keys and prefixes, before any request`, async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    // short keys: 1000 of them fit in a stream URL
    const stops = Array.from({ length: MAX_SUBSCRIPTIONS }, (_, i) => kv.watch(`/${i}`, () => {}))
    let error: unknown
    try {
      kv.watch('/one-more', () => {})
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(AtomKVError)
    expect(error).toMatchObject({ code: 'too-many-subscriptions', key: '/one-more' })
    await expect(kv.subscribe('/one-more').next()).rejects.toMatchObject({ code: 'too-many-subscriptions' })
    kv.watch('/1', () => {}) // another listener on a path already there is fine
    await waitFor(() => server.atomkv.stats().subscriptions === MAX_SUBSCRIPTIONS, 'the server to hold them all')
    expect(counter.streams()).toHaveLength(1)
    stops[0]!()
    kv.watch('/one-more', () => {}) // room again
  })

  it("takes the server's own limit once a stream has answered", async () => {
    const server = await startServer({ maxSubscriptionsPerStream: 1100 })
    const kv = startClient(server.url)
    kv.watch('/first', () => {})
    await waitFor(() => kv.status === 'open', 'the first stream')
    // Short keys, so 1100 fit in a stream URL.
    for (let i = 0; i < 1099; i++) kv.watch(`/${i}`, () => {})
    await waitFor(() => server.atomkv.stats().subscriptions === 1100, 'the server to hold 1100')
    expect(() => kv.watch('/one-more', () => {})).toThrow(/at most 1100/)

    const small = await startServer({ maxSubscriptionsPerStream: 3 })
    const strict = startClient(small.url)
    strict.watch('/a', () => {})
    await waitFor(() => strict.status === 'open', 'the stream')
    strict.watch('/b', () => {})
    strict.watch('/c', () => {})
    expect(() => strict.watch('/d', () => {})).toThrow(AtomKVError)
  })

  it('refuses a path when the subscription list would not fit in a URL', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const long = (i: number) => `/${i}${'x'.repeat(1000)}`
    for (let i = 0; i < 11; i++) kv.watch(long(i), () => {})
    expect(() => kv.watch(long(11), () => {})).toThrow(expect.objectContaining({ code: 'too-many-subscriptions' }))
    await waitFor(() => server.atomkv.stats().subscriptions === 11, 'the server to accept an 11 kB URL')
  })

  it('surfaces a 400 on open to its subscriptions instead of retrying', async () => {
    const server = await startServer({ maxSubscriptionsPerStream: 2 })
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    const watched = recorder()
    kv.watch('/x', watched.listener)
    const subs = [kv.subscribe('/y'), kv.subscribe('/z/')]
    for (const sub of subs) {
      const error = await sub.next().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AtomKVError)
      expect(error).toMatchObject({ code: 'http', status: 400 })
      expect((error as Error).message).toBe('too many subscriptions: 3 (at most 2 on one stream)')
    }
    expect(watched.types()).toEqual(['error'])
    expect(kv.status).toBe('closed')
    expect(counter.streams()).toHaveLength(1)
    // the client still works
    const ok = kv.subscribe('/x')
    await ok.ready
  })

  it('with multiplex: false, opens one stream per key or prefix', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { multiplex: false })
    await kv.set('/m/a', 0)
    const a = kv.subscribe('/m/a')
    const p = kv.subscribe('/m/', { initial: true })
    await Promise.all([a.ready, p.ready])
    expect(server.atomkv.stats()).toMatchObject({ streams: 2, subscriptions: 2 })
    expect(kv.status).toBe('open')
    await kv.set('/m/a', 1)
    expect(await take(a, 1)).toEqual([['/m/a', 1, 1]])
    expect(await take(p, 2)).toEqual([['/m/a', 0, 0], ['/m/a', 1, 1]])
    await a.return()
    await waitFor(() => server.atomkv.stats().streams === 1, 'one stream to close')
    expect(kv.status).toBe('open')
    await p.return()
    await waitFor(() => kv.status === 'closed', 'the client to have no stream')
  })
})
