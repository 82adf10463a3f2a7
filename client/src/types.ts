// The public shapes of subscriptions, shared by the client, its iterator and
// the framework adapters built on `watch()`.

import type { AtomKVError } from './errors.js'

/**
 * The client's connection: `closed` while nothing is subscribed (and after
 * `close()`), `connecting` for the first open, `open` once the server
 * answered, `reconnecting` after a failure until it answers again.
 */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed'

/**
 * What a `watch()` listener receives.
 *
 * - `value`: a write of `key`. Per listener and key, revisions arrive in
 *   increasing order and at most once, between two `reset`s and `delete`s.
 * - `delete`: `key` was removed (deleted, or it expired): it reads as missing
 *   until written again, which starts over at revision 0.
 * - `reset`: the server could not resume the stream (its backlog moved on, or
 *   it restarted), or, with `shareAcrossTabs`, the stream moved to another
 *   tab. Forget what you know of the watched keys: the full current state
 *   follows as `value` events, then `ready`. A key not sent before that
 *   `ready` no longer exists.
 * - `ready`: the listener is live. With `initial`, the `value` events before
 *   the first `ready` are the full current state; after a `reset`, so are the
 *   ones since the `reset`.
 * - `error`: the subscription is over (the server refused it: a `400` or `404`
 *   on open; a `401`, code `unauthenticated`, ends every subscription of that
 *   stream; a `403`, code `forbidden`, only the one refused). Nothing follows.
 */
export type WatchEvent<T = unknown> =
  | { type: 'value'; key: string; value: T; revision: number }
  | { type: 'delete'; key: string }
  | { type: 'reset' }
  | { type: 'ready' }
  | { type: 'error'; error: AtomKVError }

export type WatchListener<T = unknown> = (event: WatchEvent<T>) => void

export interface WatchOptions {
  /** Deliver the current value of every covered key first, then `ready`. Default false. */
  initial?: boolean
}

export interface SubscribeOptions {
  /** Ends the iterator: a pending or later `next()` rejects with code `aborted`. */
  signal?: AbortSignal
  /** Yield the current value of every covered key first, then the later writes. Default false. */
  initial?: boolean
}

/**
 * What a subscription yields: a write, or a removal as `[key, null, -1]`
 * (revision -1 tells it from a write of `null`), the pair `get()` gives for
 * a missing key, as the original's `subscribe` yields it.
 */
export type SubscriptionEntry<T = unknown> = [key: string, value: T | null, revision: number]

/** A live subscription, as returned by `subscribe()`: `for await` it, `break` (or `return()`) to end it. */
export interface Subscription<T = unknown> extends AsyncIterableIterator<SubscriptionEntry<T>> {
  /**
   * Settles once the server has the subscription: every write after this is
   * yielded. Rejects (without an unhandled rejection if you ignore it) when the
   * subscription ends before that.
   */
  readonly ready: Promise<void>
  return(): Promise<IteratorResult<SubscriptionEntry<T>, undefined>>
}
