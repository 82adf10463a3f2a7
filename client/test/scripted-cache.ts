// A client for the cache's tests that the test plays by hand: it writes each
// watched path's stream (`emit`) and queues the revisions `set` answers. Some
// orders (two events in one chunk, a write's answer before its echo) a real
// stream gives only by luck; a test that needs one plays it here.

import type { CacheClient, WatchEvent } from '@atomkv/client'
import { AtomKVCache } from '../src/cache/cache.js'

export function scriptedCacheClient(onWatch?: (path: string) => void) {
  /** The watches open now, by path. */
  const open = new Map<string, (event: WatchEvent) => void>()
  /** The revisions the next `set` calls answer, in order. */
  const revisions: number[] = []
  const client: CacheClient = {
    watch: (path, listener) => {
      onWatch?.(path)
      open.set(path, listener as (event: WatchEvent) => void)
      return () => void open.delete(path)
    },
    set: async () => {
      const revision = revisions.shift()
      if (revision === undefined) throw new Error('no answer scripted')
      return revision
    },
    modify: () => Promise.reject(new Error('not scripted')),
    delete: () => Promise.reject(new Error('not scripted')),
  }
  /** Plays events on a path's stream; nothing when the path is not watched (any more). */
  const emit = (path: string, ...events: WatchEvent[]) => {
    for (const event of events) open.get(path)?.(event)
  }
  return { client, open, revisions, emit }
}

/** A cache with no release delay over a scripted client. */
export function scriptedCache() {
  const scripted = scriptedCacheClient()
  return { ...scripted, cache: new AtomKVCache(scripted.client, { releaseDelayMs: 0 }) }
}

export const value = (key: string, v: unknown, revision: number): WatchEvent => ({ type: 'value', key, value: v, revision })
