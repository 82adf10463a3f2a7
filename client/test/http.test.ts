import { describe, expect, it } from 'vitest'
import { AtomKVError, createClient } from '../src/index.js'
import { startClient, startServer } from '@atomkv/test-support'
import { countingFetch } from './helpers.js'

describe('get, set, update', () => {
  it('reads a missing key as [null, -1], then follows revisions from 0', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    expect(await kv.get('/greeting')).toEqual([null, -1])
    expect(await kv.set('/greeting', { text: 'hello' })).toBe(0)
    expect(await kv.get('/greeting')).toEqual([{ text: 'hello' }, 0])
    expect(await kv.set('/greeting', null)).toBe(1)
    expect(await kv.get('/greeting')).toEqual([null, 1])
  })

  it('compare-and-swaps: true for the next revision, false otherwise, 0 creates', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    expect(await kv.update('/fib', [0, 1], 1)).toBe(false)
    expect(await kv.update('/fib', [0, 1], 0)).toBe(true)
    expect(await kv.update('/fib', [1, 1], 0)).toBe(false)
    expect(await kv.update('/fib', [1, 1], -1)).toBe(false)
    expect(await kv.update('/fib', [1, 1], 1)).toBe(true)
    expect(await kv.get('/fib')).toEqual([[1, 1], 1])
  })

  it('handles Unicode keys and values', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    expect(await kv.set('/users/zoë/日本', { name: 'Zoë 🎉' })).toBe(0)
    expect(await kv.get('/users/zoë/日本')).toEqual([{ name: 'Zoë 🎉' }, 0])
    expect(await kv.update('/users/zoë/日本', 'é', 1)).toBe(true)
    expect(server.atomkv.stats().keys).toBe(1)
  })

  it('joins a base URL with a path (a service mounted under a prefix)', async () => {
    const counter = countingFetch()
    const kv = createClient({ url: 'http://example.invalid/__atomkv/', fetch: async (input, init) => {
      counter.requests.push(String(input))
      return new Response('no', { status: 404 })
    } })
    expect(await kv.get('/a/b')).toEqual([null, -1])
    expect(counter.requests).toEqual(['http://example.invalid/__atomkv/a/b'])
    kv.close()
  })

  it('rejects invalid keys and values before any request', async () => {
    const server = await startServer()
    const counter = countingFetch()
    const kv = startClient(server.url, { fetch: counter.fetch })
    for (const key of ['a', '/', '/a/', '/a//b', '/a.b', '/a:b', '/a b', '', '/' + 'x'.repeat(1024)]) {
      const error = await kv.get(key).catch((e: unknown) => e)
      expect(error, key).toBeInstanceOf(AtomKVError)
      expect(error).toMatchObject({ code: 'invalid-key', key })
      await expect(kv.set(key, 1)).rejects.toMatchObject({ code: 'invalid-key' })
      await expect(kv.update(key, 1, 0)).rejects.toMatchObject({ code: 'invalid-key' })
      await expect(kv.modify(key, () => 1)).rejects.toMatchObject({ code: 'invalid-key' })
      if (key === '/a/') continue // a prefix: fine to watch
      expect(() => kv.watch(key, () => {})).toThrow(AtomKVError)
      await expect(kv.subscribe(key).next()).rejects.toMatchObject({ code: 'invalid-key' })
    }
    expect(() => kv.watch('/a//', () => {})).toThrow('invalid key or prefix "/a//": has an empty component')
    expect(await kv.get('/a:b').catch((e: AtomKVError) => e.message)).toBe('invalid key "/a:b": component "a:b" may hold only letters, digits, "-" and "_"')
    for (const value of [undefined, () => 1, 10n, Symbol('s')]) {
      await expect(kv.set('/k', value)).rejects.toMatchObject({ code: 'invalid-value', key: '/k' })
    }
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    await expect(kv.update('/k', cycle, 0)).rejects.toMatchObject({ code: 'invalid-value' })
    expect(counter.requests).toEqual([])
  })

  it('maps server errors to AtomKVError with status, key, code and the server text', async () => {
    const server = await startServer({ maxValueBytes: 100 })
    const kv = startClient(server.url)
    const tooLarge = await kv.set('/big', 'x'.repeat(200)).catch((e: unknown) => e)
    expect(tooLarge).toBeInstanceOf(AtomKVError)
    expect(tooLarge).toMatchObject({ status: 413, key: '/big', code: 'http' })
    expect((tooLarge as Error).message).toBe('/big: the body is larger than 100 bytes')
    const badRevision = await kv.update('/k', 1, 1.5).catch((e: unknown) => e)
    expect(badRevision).toMatchObject({ status: 400, key: '/k', code: 'http' })
    expect((badRevision as Error).message).toMatch(/^\/k: X-Revision "1\.5" is not an integer/)
    expect(await kv.get('/big')).toEqual([null, -1]) // nothing stored
  })

  it('reports a server that is not there as a network error', async () => {
    const server = await startServer()
    await server.close()
    const kv = startClient(server.url)
    await expect(kv.get('/k')).rejects.toMatchObject({ code: 'network', key: '/k', status: undefined })
    await expect(kv.set('/k', 1)).rejects.toMatchObject({ code: 'network' })
  })

  it('rejects every call with code closed after close()', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    kv.close()
    await expect(kv.get('/k')).rejects.toMatchObject({ code: 'closed' })
    await expect(kv.set('/k', 1)).rejects.toMatchObject({ code: 'closed' })
    await expect(kv.update('/k', 1, 0)).rejects.toMatchObject({ code: 'closed' })
    await expect(kv.modify('/k', () => 1)).rejects.toMatchObject({ code: 'closed' })
    await expect(kv.subscribe('/k').next()).rejects.toMatchObject({ code: 'closed' })
    expect(() => kv.watch('/k', () => {})).toThrow(expect.objectContaining({ code: 'closed' }))
    expect(kv.status).toBe('closed')
  })
})
