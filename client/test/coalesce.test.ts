// modify() coalesced per key: one write in flight, the waiting calls applied in
// order and sent as one write, conflicts retried from the value the server
// answered with, and the cache's value used instead of a read.

import { describe, expect, it } from 'vitest'
import { MAX_QUEUED_PER_KEY } from '../src/modify.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { countingFetch } from './helpers.js'

const writes = (requests: readonly string[]) => requests.filter((r) => r.startsWith('PUT ')).length
const reads = (requests: readonly string[]) => requests.filter((r) => r.startsWith('GET ') && !r.includes('/.stream')).length

describe('coalesced modify()', () => {
  it('keeps one write in flight per key and sends the waiting calls as one', async () => {
    const server = await startServer()
    const counter = countingFetch()
    let inFlight = 0
    let most = 0
    const kv = startClient(server.url, {
      fetch: async (input, init) => {
        const put = init?.method === 'PUT'
        if (put) most = Math.max(most, ++inFlight)
        try {
          return await counter.fetch(input, init)
        } finally {
          if (put) inFlight--
        }
      },
    })
    const results = await Promise.all(Array.from({ length: 100 }, () => kv.modify<number>('/n', (n) => (n ?? 0) + 1)))
    expect(await kv.get('/n')).toEqual([100, expect.any(Number)])
    expect(most).toBe(1)
    // One read, then one write for the first call and one for the 99 that waited behind it.
    expect(reads(counter.requests)).toBe(2) // the read above included
    expect(writes(counter.requests)).toBe(2)
    // Each call resolves to what its write committed: the first alone, the 99 others together.
    expect(results[0]).toEqual([1, 0])
    expect(results.slice(1)).toEqual(Array(99).fill([100, 1]))
  })

  it('applies the waiting functions in the order they were called, each on what the one before made', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const seen: [unknown, number][] = []
    const calls = Array.from({ length: 5 }, (_, i) =>
      kv.modify<string[]>('/list', (list, revision) => {
        seen.push([list, revision])
        return [...(list ?? []), `item ${i}`]
      }),
    )
    await Promise.all(calls)
    expect(await kv.get('/list')).toEqual([['item 0', 'item 1', 'item 2', 'item 3', 'item 4'], 1])
    // The first on the stored value; the others, in one batch, on their predecessors' values.
    expect(seen).toEqual([
      [null, -1],
      [['item 0'], 0],
      [['item 0', 'item 1'], 0],
      [['item 0', 'item 1', 'item 2'], 0],
      [['item 0', 'item 1', 'item 2', 'item 3'], 0],
    ])
  })

  it('counts exactly across two clients, 100 concurrent increments each, in a fraction of the requests', async () => {
    const server = await startServer()
    const counters = [countingFetch(), countingFetch()]
    const clients = counters.map((counter) => startClient(server.url, { fetch: counter.fetch }))
    await Promise.all(
      clients.flatMap((kv) => Array.from({ length: 100 }, () => kv.modify<number>('/hits', (n) => (n ?? 0) + 1, { maxAttempts: 100 }))),
    )
    expect((await clients[0]!.get('/hits'))[0]).toBe(200)
    const requests = counters.reduce((sum, c) => sum + reads(c.requests) + writes(c.requests), 0)
    // A loop per call would make at least 400 (a read and a write each).
    expect(requests).toBeLessThan(40)
  })

  it('retries from the value a conflict answered with, with no read', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    const other = startClient(server.url)
    await other.set('/c', 10)
    let first = true
    const result = await kv.modify<number>('/c', async (n) => {
      if (first) {
        first = false
        await other.set('/c', 20) // lands between the read and the write
      }
      return n! + 1
    })
    expect(result).toEqual([21, 2])
    expect(reads(counter.requests)).toBe(1)
    expect(writes(counter.requests)).toBe(2)
  })

  it('treats a key deleted while calls wait as missing', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const other = startClient(server.url)
    await other.set('/d', ['a'])
    let first = true
    const seen: unknown[] = []
    const appended = await Promise.all(
      ['b', 'c'].map((item) =>
        kv.modify<string[]>('/d', async (list) => {
          seen.push(list)
          if (first) {
            first = false
            await other.delete('/d')
          }
          return [...(list ?? []), item]
        }),
      ),
    )
    expect(await kv.get('/d')).toEqual([['b', 'c'], 0])
    expect(appended.map((r) => r?.[1])).toEqual([0, 0])
    expect(seen.slice(-2)).toEqual([null, ['b']]) // run again from the missing key
  })

  it('starts from the value a watched key already has, without reading it', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    await kv.set('/w', 1)
    const handle = kv.cache.key<number>('/w')
    const stop = handle.listen(() => {})
    await waitFor(() => handle.get().revision === 0, 'the watched value')
    counter.requests.length = 0
    expect(await kv.modify<number>('/w', (n) => n! + 1)).toEqual([2, 1])
    expect(reads(counter.requests)).toBe(0)
    expect(writes(counter.requests)).toBe(1)
    stop()
  })

  it('lets each call settle on its own: an abort by fn, a throw, and the rest', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/m', 0)
    const boom = new Error('boom')
    const [a, b, c, d] = await Promise.allSettled([
      kv.modify<number>('/m', (n) => n! + 1),
      kv.modify<number>('/m', () => undefined),
      kv.modify<number>('/m', () => {
        throw boom
      }),
      kv.modify<number>('/m', (n) => n! + 10),
    ])
    // The first write carries a alone; b, c and d wait for it and go in the next, of which only d writes.
    expect(a).toEqual({ status: 'fulfilled', value: [1, 1] })
    expect(b).toEqual({ status: 'fulfilled', value: undefined })
    expect(c).toEqual({ status: 'rejected', reason: boom })
    expect(d).toEqual({ status: 'fulfilled', value: [11, 2] })
    expect(await kv.get('/m')).toEqual([11, 2])
  })

  it(`refuses more than ${MAX_QUEUED_PER_KEY} calls waiting on one key with overflow`, async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const held = kv.modify<number>('/q', async (n) => {
      await gate
      return (n ?? 0) + 1
    })
    await new Promise((resolve) => setTimeout(resolve, 0))
    const waiting = Array.from({ length: MAX_QUEUED_PER_KEY }, () => kv.modify<number>('/q', (n) => (n ?? 0) + 1))
    await expect(kv.modify<number>('/q', (n) => n ?? 0)).rejects.toMatchObject({ code: 'overflow', key: '/q' })
    release()
    await Promise.all([held, ...waiting])
    expect((await kv.get('/q'))[0]).toBe(MAX_QUEUED_PER_KEY + 1)
  })
})
