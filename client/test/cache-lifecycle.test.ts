// When a cached path watches and when it lets go: the release delay measured
// from the last listener leaving, stops that count once, a watch that cannot
// start, and listeners that throw. The client is played by hand (it counts
// watches) and the delay runs on Vitest's fake clock, so no test waits on time.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { AtomKVError } from '@atomkv/client'
import { AtomKVCache } from '../src/cache/cache.js'
import { scriptedCacheClient } from './scripted-cache.js'


afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('the release delay', () => {
  it('runs from the last listener leaving: one that came and went within it starts it again', () => {
    vi.useFakeTimers()
    const { client, open } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 1000 })
    const key = cache.key('/k')
    key.listen(() => {})()
    vi.advanceTimersByTime(500)
    const stop = key.listen(() => {})
    vi.advanceTimersByTime(100)
    stop()
    vi.advanceTimersByTime(900) // a full delay after the first left, not after the second
    expect(open.has('/k')).toBe(true)
    expect(cache.size).toBe(1)
    vi.advanceTimersByTime(100)
    expect(open.has('/k')).toBe(false)
    expect(cache.size).toBe(0)
  })

  it('a stop called twice counts once: it does not start a second release', () => {
    vi.useFakeTimers()
    const { client, open } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 1000 })
    const key = cache.key('/k')
    const stop = key.listen(() => {})
    stop()
    vi.advanceTimersByTime(500)
    stop()
    vi.advanceTimersByTime(200)
    const again = key.listen(() => {})
    vi.advanceTimersByTime(100)
    again()
    vi.advanceTimersByTime(200) // 1000 after the first stop, 200 after the last
    expect(open.has('/k')).toBe(true)
    vi.advanceTimersByTime(800)
    expect(open.has('/k')).toBe(false)
  })

  it('works where timers are plain numbers (browsers), which have no unref()', () => {
    const due: (() => void)[] = []
    vi.stubGlobal('setTimeout', (callback: () => void) => due.push(callback))
    vi.stubGlobal('clearTimeout', () => {})
    const { client, open } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 1000 })
    const stop = cache.key('/k').listen(() => {})
    expect(() => stop()).not.toThrow()
    vi.unstubAllGlobals()
    expect(due).toHaveLength(1)
    due[0]!()
    expect(open.has('/k')).toBe(false)
  })

  it('with no delay, one listener leaving keeps the path watched for the others', () => {
    const { client, open, emit } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const key = cache.key<number>('/k')
    const seen: unknown[] = []
    const stayer = key.listen(() => seen.push(key.get().value))
    key.listen(() => {})()
    expect(cache.observers('/k')).toBe(1)
    expect(open.has('/k')).toBe(true)
    emit('/k', { type: 'value', key: '/k', value: 1, revision: 0 })
    expect(seen).toEqual([1])
    stayer()
    expect(open.has('/k')).toBe(false)
  })
})

describe('starting and stopping the watch', () => {
  it('a watch that fails with a bug (not an AtomKVError) throws from listen and counts no listener', () => {
    const bug = new TypeError('a bug')
    const { client } = scriptedCacheClient(() => {
      throw bug
    })
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const key = cache.key('/k')
    expect(() => key.listen(() => {})).toThrow(bug)
    expect(cache.observers('/k')).toBe(0)
  })

  it('a watch the client refuses (an AtomKVError) shows as the key’s error', () => {
    const refused = new AtomKVError('closed', { code: 'closed' })
    const { client } = scriptedCacheClient(() => {
      throw refused
    })
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const key = cache.key('/k')
    const stop = key.listen(() => {})
    expect(key.get()).toMatchObject({ status: 'error', error: refused })
    stop()
  })

  it('clear() lets go of hydrated keys nobody listened to', () => {
    const { client } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    cache.hydrate({ '/k': [1, 0] })
    expect(cache.size).toBe(1)
    expect(() => cache.clear()).not.toThrow()
    expect(cache.size).toBe(0)
  })
})

describe('listeners', () => {
  it('one that throws does not keep the others from hearing; its error surfaces after', () => {
    const { client, emit } = scriptedCacheClient()
    const cache = new AtomKVCache(client, { releaseDelayMs: 0 })
    const key = cache.key<number>('/k')
    const later: (() => void)[] = []
    const heard: unknown[] = []
    const boom = new Error('a listener bug')
    const stops = [
      key.listen(() => {
        throw boom
      }),
      key.listen(() => heard.push(key.get().value)),
    ]
    // Catch what is rethrown in a microtask, instead of it failing the run as unhandled.
    vi.stubGlobal('queueMicrotask', (callback: () => void) => later.push(callback))
    emit('/k', { type: 'value', key: '/k', value: 1, revision: 0 })
    vi.unstubAllGlobals()
    expect(heard).toEqual([1])
    expect(later).toHaveLength(1)
    expect(() => later[0]!()).toThrow(boom)
    for (const stop of stops) stop()
  })
})
