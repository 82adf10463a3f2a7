// The client's own test helpers: a fetch that counts, one that can hold
// streams back, reading an iterator, and recording watch() events. Servers,
// clients and waiting are @atomkv/test-support's.

import type { WatchEvent } from '../src/index.js'

export interface CountingFetch {
  fetch: typeof fetch
  /** Every request made, as `METHOD url`. */
  requests: string[]
  /** Requests that opened a stream. */
  streams(): string[]
}

export function countingFetch(): CountingFetch {
  const requests: string[] = []
  return {
    requests,
    fetch: (input, init) => {
      requests.push(`${init?.method ?? 'GET'} ${String(input)}`)
      return fetch(input, init)
    },
    streams: () => requests.filter((r) => r.includes('/.stream')),
  }
}

/** Reads `count` entries from an iterator; fails if they take longer than `timeoutMs`. */
export async function take<T>(iterator: AsyncIterator<T>, count: number, timeoutMs = 10_000): Promise<T[]> {
  const out: T[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${out.length} of ${count} entries`)), timeoutMs)
  })
  try {
    while (out.length < count) {
      const result = await Promise.race([iterator.next(), timeout])
      if (result.done) throw new Error(`the iterator ended after ${out.length} of ${count} entries`)
      out.push(result.value)
    }
  } finally {
    clearTimeout(timer)
  }
  return out
}

/** A fetch whose stream requests wait while the gate is shut: a controllable outage. */
export function gatedFetch(inner: typeof fetch = fetch) {
  let open = true
  let release: () => void = () => {}
  let opened = Promise.resolve()
  const streamRequests: string[] = []
  const gate = {
    streamRequests,
    shut() {
      if (!open) return
      open = false
      opened = new Promise((resolve) => (release = resolve))
    },
    open() {
      open = true
      release()
    },
    fetch: (async (input, init) => {
      const url = String(input)
      if (url.includes('/.stream') || new Headers(init?.headers).get('accept') === 'text/event-stream') {
        streamRequests.push(url)
        const signal = init?.signal
        await Promise.race([
          opened,
          new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true })),
        ])
      }
      return inner(input, init)
    }) as typeof fetch,
  }
  return gate
}

/** Collects a watch() listener's events. */
export function recorder<T = unknown>() {
  const events: WatchEvent<T>[] = []
  const state = new Map<string, [T, number]>()
  let resetAt = -1 // index of the last reset's events, until its ready
  return {
    events,
    /** What the events say the covered keys hold, applying resets as a cache would. */
    state,
    listener: (event: WatchEvent<T>) => {
      events.push(event)
      if (event.type === 'value') state.set(event.key, [event.value, event.revision])
      if (event.type === 'delete') state.delete(event.key)
      if (event.type === 'reset') resetAt = events.length
      if (event.type === 'ready' && resetAt >= 0) {
        const sent = new Set(events.slice(resetAt).flatMap((e) => (e.type === 'value' ? [e.key] : [])))
        for (const key of state.keys()) if (!sent.has(key)) state.delete(key)
        resetAt = -1
      }
    },
    /** The events as short strings: `/key:revision`, `delete:/key`, `reset`, `ready`, `error`. */
    types: () => events.map((e) => (e.type === 'value' ? `${e.key}:${e.revision}` : e.type === 'delete' ? `delete:${e.key}` : e.type)),
  }
}

