// The cache's registry and handles: invalid paths, writes to keys nobody
// watches, what it knows from a prefix, a stale listener after clear(), and a
// committed write shown on every covering path before its echo.

import { beforeEach, describe, expect, it } from 'vitest'
import type { AtomKVClient } from '@atomkv/client'
import { startClient, startServer, waitFor, type TestServer } from '@atomkv/test-support'
import { AtomKVCache } from '../src/cache/cache.js'
import { scriptedCacheClient } from './scripted-cache.js'

let server: TestServer
let writer: AtomKVClient

beforeEach(async () => {
  server = await startServer()
  writer = startClient(server.url)
})


const microtask = () => new Promise<void>((resolve) => queueMicrotask(resolve))

describe('invalid paths', () => {
  it('a key handle shows a full missing-key state with an invalid-key error naming the key', () => {
    const cache = startClient(server.url).cache
    const state = cache.key('/a b').get()
    expect(state).toMatchObject({ value: null, revision: -1, status: 'error', pending: false })
    expect(state.error).toMatchObject({ code: 'invalid-key', key: '/a b' })
    expect(state.error?.message).toMatch(/^invalid key "\/a b": component "a b"/)
  })

  it('a prefix handle shows an empty map with an invalid-key error naming the prefix', () => {
    const cache = startClient(server.url).cache
    const unslashed = cache.prefix('/todo').get()
    expect(unslashed.entries).toEqual(new Map())
    expect(unslashed.error?.code).toBe('invalid-key')
    expect(unslashed.error?.message).toContain('"/todo": a prefix must end with "/"')
    expect(cache.prefix('todo/').get().error?.message).toBe('invalid prefix "todo/": must begin with "/"')
  })

  it('hydrate() skips invalid keys', () => {
    const cache = startClient(server.url).cache
    cache.hydrate({ '/ok': [1, 0], 'no slash': [2, 0] })
    expect(cache.size).toBe(1)
  })

  it('a release delay that is not a number >= 0 is refused, saying which option', () => {
    expect(() => startClient(server.url, { cache: { releaseDelayMs: -1 } })).toThrow(
      'releaseDelayMs must be a finite number >= 0, not -1',
    )
  })
})

describe('writes to a key nobody watches', () => {
  it('pass the client’s failure, an abort and a function’s error through unchanged', async () => {
    const cache = startClient(server.url).cache
    await expect(cache.set('/k', undefined)).rejects.toMatchObject({ code: 'invalid-value' })
    const bug = new Error('fn failed')
    await expect(
      cache.modify('/k', () => {
        throw bug
      }),
    ).rejects.toBe(bug)
    expect(await cache.modify('/k', () => undefined)).toBeUndefined()
  })
})

describe('the registry', () => {
  it('a path nobody watches has 0 observers', () => {
    expect(startClient(server.url).cache.observers('/nobody')).toBe(0)
  })

  it('peek() knows a key from a watched prefix above it', async () => {
    await writer.set('/todo/a', 'milk')
    const cache = startClient(server.url, { cache: { releaseDelayMs: 0 } }).cache
    const todos = cache.prefix('/todo/')
    const stop = todos.listen(() => {})
    await waitFor(() => todos.get().status === 'ready', 'the prefix ready')
    expect(cache.peek('/todo/a')).toEqual(['milk', 0])
    expect(cache.peek('/todo/b')).toEqual([null, -1])
    stop()
  })

  it('a listener that outlived clear() leaving does not end the path’s new watch', async () => {
    const cache = startClient(server.url, { cache: { releaseDelayMs: 0 } }).cache
    const key = cache.key<string>('/k')
    const stale = key.listen(() => {})
    cache.clear()
    const stop = key.listen(() => {})
    stale()
    expect(cache.observers('/k')).toBe(1)
    await writer.set('/k', 'after')
    await waitFor(() => key.get().value === 'after', 'the new watch to bring the write')
    stop()
  })

  it('a key written again with the same value shows the new revision', () => {
    const { client, emit } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const key = cache.key<number>('/n')
    const stop = key.listen(() => {})
    emit('/n', { type: 'value', key: '/n', value: 5, revision: 0 })
    emit('/n', { type: 'value', key: '/n', value: 5, revision: 1 })
    expect(key.get()).toMatchObject({ value: 5, revision: 1 })
    stop()
  })

  it('a committed write shows under a watched prefix before the stream brings it', async () => {
    const { client, emit, revisions } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const todos = cache.prefix('/todo/')
    const stop = todos.listen(() => {})
    emit('/todo/', { type: 'value', key: '/todo/a', value: 'milk', revision: 0 })
    emit('/todo/', { type: 'ready' })
    expect(todos.get().entries.get('/todo/a')).toEqual({ value: 'milk', revision: 0 })
    revisions.push(1)
    await cache.set('/todo/a', 'eggs')
    await microtask()
    expect(todos.get().entries.get('/todo/a')).toEqual({ value: 'eggs', revision: 1 })
    stop()
  })
})
