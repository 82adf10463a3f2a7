import { describe, expect, it } from 'vitest'
import { AtomKVConflictError, AtomKVError } from '../src/index.js'
import { startClient, startServer } from '@atomkv/test-support'
import { countingFetch } from './helpers.js'

describe('modify', () => {
  it('8 concurrent loops of 50 increments on one key lose no increment', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    expect(await kv.set('/counter', 0)).toBe(0)
    const loop = async () => {
      for (let i = 0; i < 50; i++) {
        // a generous bound: on a loaded machine 8 writers may collide more than the default 25 times
        const result = await kv.modify<number>('/counter', (n) => (n ?? 0) + 1, { maxAttempts: 200 })
        expect(result?.[1]).toBeGreaterThan(0)
      }
    }
    await Promise.all(Array.from({ length: 8 }, loop))
    // Every increment counted; the loops' calls share writes, so there are fewer revisions.
    const [count, revision] = await kv.get<number>('/counter')
    expect(count).toBe(400)
    expect(revision).toBeGreaterThan(0)
    expect(revision).toBeLessThanOrEqual(400)
  })

  it('starts a missing key from null and revision -1, and resolves to the committed pair', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const seen: [unknown, number][] = []
    const result = await kv.modify<string[]>('/list', (list, revision) => {
      seen.push([list, revision])
      return [...(list ?? []), 'a']
    })
    expect(seen).toEqual([[null, -1]])
    expect(result).toEqual([['a'], 0])
    expect(await kv.modify<string[]>('/list', async (list) => [...list!, 'b'])).toEqual([['a', 'b'], 1])
  })

  it('aborts without writing when fn returns undefined', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/k', 1)
    expect(await kv.modify('/k', () => undefined)).toBeUndefined()
    expect(await kv.get('/k')).toEqual([1, 0])
  })

  it('rejects with code aborted when its signal fires, and writes nothing', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    await kv.set('/k', 1)

    const controller = new AbortController()
    const aborted = kv.modify<number>('/k', (n) => {
      controller.abort(new Error('stop'))
      return n! + 1
    }, { signal: controller.signal })
    await expect(aborted).rejects.toMatchObject({ code: 'aborted', key: '/k', message: '/k: aborted' })
    expect(await kv.get('/k')).toEqual([1, 0])

    counter.requests.length = 0
    await expect(kv.modify('/k', () => 2, { signal: controller.signal })).rejects.toBeInstanceOf(AtomKVError)
    expect(counter.requests).toEqual([]) // already aborted: not even a read
  })

  it('aborts during its backoff after a conflict', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/k', 0)
    const controller = new AbortController()
    let calls = 0
    const result = kv.modify<number>('/k', async (n) => {
      calls++
      await kv.set('/k', 100) // always conflicts
      if (calls === 3) controller.abort()
      return n! + 1
    }, { signal: controller.signal })
    await expect(result).rejects.toMatchObject({ code: 'aborted' })
    expect(calls).toBe(3)
  })

  it('gives up after maxAttempts conflicts with AtomKVConflictError carrying what it last saw', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/k', 'first')
    const error = await kv
      .modify<string>('/k', async (value) => {
        await kv.set('/k', 'competitor') // lands between our read and our write
        return value + '!'
      }, { maxAttempts: 1 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomKVConflictError)
    expect(error).toMatchObject({ code: 'conflict', key: '/k', value: 'first', revision: 0, attempts: 1, status: 409 })
    expect(await kv.get('/k')).toEqual(['competitor', 1])

    let attempts = 0
    const three = await kv
      .modify<string>('/k', async (value) => {
        attempts++
        await kv.set('/k', 'again')
        return value + '!'
      }, { maxAttempts: 3 })
      .catch((e: unknown) => e)
    expect(three).toMatchObject({ attempts: 3, revision: 3, value: 'again' })
    expect(attempts).toBe(3)
  })

  it('gives up after 25 conflicts when maxAttempts is not given', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    let attempts = 0
    const error = await kv
      .modify<string>('/k', async () => {
        attempts++
        await kv.set('/k', 'competitor')
        return 'mine'
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AtomKVConflictError)
    expect(error).toMatchObject({ attempts: 25 })
    expect(attempts).toBe(25)
  })

  it('waits between conflicting attempts rather than retrying at once', async () => {
    const server = await startServer()
    // When each conflicting PUT's answer came, and when the next write left.
    const conflictsAt: number[] = []
    const gaps: number[] = []
    const kv = startClient(server.url, {
      fetch: async (input, init) => {
        if (init?.method === 'PUT' && conflictsAt.length > gaps.length) {
          gaps.push(performance.now() - conflictsAt.at(-1)!)
        }
        const response = await fetch(input, init)
        if (init?.method === 'PUT' && response.status === 409) conflictsAt.push(performance.now())
        return response
      },
    })
    const writer = startClient(server.url)
    await kv
      .modify<number>('/k', async () => {
        await writer.set('/k', 0)
        return 1
      }, { maxAttempts: 11 })
      .catch(() => undefined)
    expect(gaps).toHaveLength(10)
    // Jittered backoff from 8 ms doubling to 250: about 750 ms over ten waits on average, and
    // below 100 ms with a negligible chance; retrying at once takes a few milliseconds in all.
    expect(gaps.reduce((a, b) => a + b, 0)).toBeGreaterThan(100)
  })

  it('passes on what fn throws, and refuses a bad maxAttempts', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const boom = new Error('boom')
    await expect(kv.modify('/k', () => { throw boom })).rejects.toBe(boom)
    await expect(kv.modify('/k', () => 1, { maxAttempts: 0 })).rejects.toThrow(RangeError)
    await expect(kv.modify('/k', () => 1, { maxAttempts: 1.5 })).rejects.toThrow(
      'maxAttempts must be a positive integer, not 1.5',
    )
  })
})
