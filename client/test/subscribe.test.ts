import { describe, expect, it } from 'vitest'
import { AtomKVError } from '../src/index.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { take } from './helpers.js'

/** Runs `count` jobs, `width` at a time. */
async function pool(count: number, width: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await job(next++)
  }
  await Promise.all(Array.from({ length: width }, worker))
}

describe('subscribe', () => {
  it('sees a burst of 1000 writes to one key in order, each revision once', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe<number>('/burst')
    await sub.ready
    await pool(1000, 16, (i) => kv.set('/burst', i))
    const entries = await take(sub, 1000)
    expect(entries.map(([, , revision]) => revision)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(entries.every(([key]) => key === '/burst')).toBe(true)
    expect(await kv.get('/burst')).toEqual([entries[999]![1], 999])
    await sub.return()
  })

  it('gets only writes made after it subscribed', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/old', 'before')
    await kv.set('/p/old', 'before')
    const key = kv.subscribe('/old')
    const prefix = kv.subscribe('/p/')
    await Promise.all([key.ready, prefix.ready])
    await kv.set('/p/old', 'after')
    await kv.set('/old', 'after')
    expect(await take(key, 1)).toEqual([['/old', 'after', 1]])
    expect(await take(prefix, 1)).toEqual([['/p/old', 'after', 1]])
  })

  it('yields the current state first with initial', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/p/a', 1)
    await kv.set('/p/b/c', 2)
    await kv.set('/p/a', 3)
    const sub = kv.subscribe('/p/', { initial: true })
    const first = await take(sub, 2)
    expect(first.sort()).toEqual([['/p/a', 3, 1], ['/p/b/c', 2, 0]])
    await kv.set('/p/b/c', 4)
    expect(await take(sub, 1)).toEqual([['/p/b/c', 4, 1]])
  })

  it('follows a prefix: /p/ sees /p/a and /p/a/b, never /pq or /p', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe('/p/')
    await sub.ready
    for (const key of ['/pq', '/p', '/p/a', '/pq/a', '/p/a/b', '/q/p/a']) await kv.set(key, key)
    await kv.set('/p/end', 'end')
    expect((await take(sub, 3)).map(([key]) => key)).toEqual(['/p/a', '/p/a/b', '/p/end'])
  })

  it('keeps what arrives while the consumer is busy', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe<number>('/slow')
    await sub.ready
    const writer = pool(200, 4, (i) => kv.set('/slow', i))
    const revisions: number[] = []
    for await (const [, , revision] of sub) {
      revisions.push(revision)
      if (revisions.length % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 20)) // busy
      if (revisions.length === 200) break
    }
    await writer
    expect(revisions).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  it('fails with overflow after yielding its queue when the reader falls maxQueue behind', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { maxQueue: 5 })
    const sub = kv.subscribe<number>('/fast')
    await sub.ready
    for (let i = 0; i < 8; i++) await kv.set('/fast', i)
    await waitFor(() => server.atomkv.stats().subscriptions === 0, 'the overflowing subscription to be dropped')
    expect(await take(sub, 5)).toEqual([0, 1, 2, 3, 4].map((i) => ['/fast', i, i]))
    const error = await sub.next().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomKVError)
    expect(error).toMatchObject({
      code: 'overflow',
      key: '/fast',
      message: '/fast: the subscriber fell more than 5 writes behind; later writes were not delivered',
    })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
  })

  it('unsubscribes on break, on return() and on abort', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const subscriptions = () => server.atomkv.stats().subscriptions

    const sub = kv.subscribe('/b')
    await sub.ready
    expect(subscriptions()).toBe(1)
    void kv.set('/b', 1)
    for await (const _ of sub) break
    await waitFor(() => subscriptions() === 0, 'break to unsubscribe')
    expect(kv.status).toBe('closed')

    const controller = new AbortController()
    const aborted = kv.subscribe('/c', { signal: controller.signal })
    await aborted.ready
    const pending = aborted.next()
    controller.abort()
    await expect(pending).rejects.toMatchObject({ code: 'aborted', key: '/c' })
    await waitFor(() => subscriptions() === 0, 'abort to unsubscribe')

    const returned = kv.subscribe('/d')
    await returned.ready
    const waiting = returned.next()
    await returned.return()
    expect(await waiting).toEqual({ done: true, value: undefined })
    await waitFor(() => subscriptions() === 0, 'return() to unsubscribe')
  })

  it('yields every entry it holds after the client closes, then ends', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe<number>('/held')
    await sub.ready
    // A watch on the same client hears each write in the same pass that queues it for the iterator.
    let seen = -1
    kv.watch<number>('/held', (event) => event.type === 'value' && (seen = event.revision))
    for (let i = 0; i < 3; i++) await kv.set('/held', i)
    await waitFor(() => seen === 2, 'the three writes to reach the client')
    kv.close()
    expect(await take(sub, 3)).toEqual([['/held', 0, 0], ['/held', 1, 1], ['/held', 2, 2]])
    expect(await sub.next()).toEqual({ done: true, value: undefined })
  })

  it('ends iterators after what they hold when the client closes', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe('/e')
    await sub.ready
    await kv.set('/e', 1)
    const done = kv.subscribe('/f')
    const pending = done.next()
    // let the write reach the stream before closing
    const first = await sub.next()
    kv.close()
    expect(first.value).toEqual(['/e', 1, 0])
    expect(await sub.next()).toEqual({ done: true, value: undefined })
    expect(await pending).toEqual({ done: true, value: undefined })
    await waitFor(() => server.atomkv.stats().streams === 0, 'the stream to close')
  })

  /** A subscription on `path` holding `count` writes it has not yielded yet. */
  async function holding(kv: ReturnType<typeof startClient>, path: string, count: number, options = {}) {
    const sub = kv.subscribe<number>(path, options)
    await sub.ready
    // A watch on the same client hears each write in the same pass that queues it for the iterator.
    let seen = -1
    kv.watch<number>(path, (event) => event.type === 'value' && (seen = event.revision))
    for (let i = 0; i < count; i++) await kv.set(path, i)
    await waitFor(() => seen === count - 1, `the ${count} writes to reach the client`)
    return sub
  }

  it('drops what it holds on return(), and unsubscribes', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = await holding(kv, '/r', 3)
    expect(await sub.return!()).toEqual({ done: true, value: undefined })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'only the watch left on the stream')
  })

  it('throw() ends it as return() does and rejects with the error it was given', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = await holding(kv, '/t', 2)
    const boom = new Error('boom')
    await expect(sub.throw!(boom)).rejects.toBe(boom)
    expect(await sub.next()).toEqual({ done: true, value: undefined })
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'only the watch left on the stream')
  })

  it('drops what it holds on abort: the next read rejects with aborted, then it is done', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const controller = new AbortController()
    const sub = await holding(kv, '/a', 2, { signal: controller.signal })
    const reason = new Error('enough')
    controller.abort(reason)
    const error = await sub.next().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomKVError)
    expect(error).toMatchObject({ code: 'aborted', key: '/a', message: '/a: subscription aborted', cause: reason })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'only the watch left on the stream')
  })

  it('with a signal already aborted: subscribes to nothing, and rejects its ready and its first read', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe('/never', { signal: AbortSignal.abort() })
    await expect(sub.ready).rejects.toMatchObject({ code: 'aborted', key: '/never' })
    await expect(sub.next()).rejects.toMatchObject({ code: 'aborted', key: '/never' })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
    expect(kv.status).toBe('closed') // nothing watched: no stream
    expect(server.atomkv.stats().streams).toBe(0)
  })

  it('on a closed client: rejects its ready and its first read with closed, then is done', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    kv.close()
    const sub = kv.subscribe('/late')
    await expect(sub.ready).rejects.toMatchObject({ code: 'closed' })
    await expect(sub.next()).rejects.toMatchObject({ code: 'closed' })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
  })

  it('rejects its ready with closed when the client closes before the stream is ready', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const sub = kv.subscribe('/soon')
    kv.close() // the stream opens on the next tick: this comes first
    await expect(sub.ready).rejects.toMatchObject({ code: 'closed', message: 'the subscription ended before it was ready' })
    expect(await sub.next()).toEqual({ done: true, value: undefined })
  })

  it('hands an error to one waiting reader; the others are done', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const controller = new AbortController()
    const sub = kv.subscribe('/w', { signal: controller.signal })
    await sub.ready
    const first = sub.next()
    const second = sub.next()
    controller.abort()
    await expect(first).rejects.toMatchObject({ code: 'aborted' })
    expect(await second).toEqual({ done: true, value: undefined })
  })

  it('counts only unread entries against maxQueue', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { maxQueue: 3 })
    const sub = await holding(kv, '/q', 3)
    expect(await take(sub, 1)).toEqual([['/q', 0, 0]])
    let seen = -1
    kv.watch<number>('/q', (event) => event.type === 'value' && (seen = event.revision))
    await kv.set('/q', 3) // three unread again: within the bound
    await waitFor(() => seen === 3, 'the fourth write to reach the client')
    expect(await take(sub, 3)).toEqual([1, 2, 3].map((i) => ['/q', i, i]))
  })

  it('yields a long backlog in order as it reads it down', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { maxQueue: 5000 })
    const sub = kv.subscribe<number>('/long')
    await sub.ready
    let seen = -1
    kv.watch<number>('/long', (event) => event.type === 'value' && (seen = event.revision))
    await pool(2100, 8, (i) => kv.set('/long', i))
    await waitFor(() => seen === 2099, 'the 2100 writes to reach the client')
    const entries = await take(sub, 2100) // more than 1024 read: the queue compacts on the way
    expect(entries.map(([, , revision]) => revision)).toEqual(Array.from({ length: 2100 }, (_, i) => i))
  })

  it('keeps the entries before an overflow when its signal fires afterwards', async () => {
    const server = await startServer()
    const kv = startClient(server.url, { maxQueue: 2 })
    const controller = new AbortController()
    const sub = await holding(kv, '/o', 3, { signal: controller.signal })
    controller.abort() // the subscription had already ended with its overflow
    expect(await take(sub, 2)).toEqual([['/o', 0, 0], ['/o', 1, 1]])
    await expect(sub.next()).rejects.toMatchObject({ code: 'overflow' })
  })
})
