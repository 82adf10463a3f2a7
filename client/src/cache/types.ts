// The public shapes of the cache: what a key and a prefix look like to their
// observers, and the handles the cache gives out.

import type { AtomKVError } from '../errors.js'
import type { AtomKVClient, DeleteOptions } from '../client.js'
import type { Modifier, ModifyOptions } from '../modify.js'

/** What the cache needs of a client. */
export type CacheClient = Pick<AtomKVClient, 'watch' | 'set' | 'modify' | 'delete'>

/** `loading` until the server's current state arrived; `error` once the subscription failed. */
export type CacheStatus = 'loading' | 'ready' | 'error'

/**
 * One key as the cache knows it. A missing key is value `null`, revision `-1`,
 * status `ready`. While this client's optimistic writes are in flight, `value`
 * is what they expect (see `CacheWriteOptions`), `pending` is true, and
 * `revision` is still the server's latest.
 */
export interface KeyState<T = unknown> {
  readonly value: T | null
  readonly revision: number
  readonly status: CacheStatus
  readonly error: AtomKVError | undefined
  /** `true` while a write of this client through the cache, shown optimistically, awaits the server. */
  readonly pending: boolean
}

/** One key under a watched prefix. */
export interface PrefixItem<T = unknown> {
  readonly value: T
  readonly revision: number
}

/** Every existing key under a prefix, by key, in the order they were first seen. */
export interface PrefixState<T = unknown> {
  readonly entries: ReadonlyMap<string, PrefixItem<T>>
  readonly status: CacheStatus
  readonly error: AtomKVError | undefined
}

/** The state of every key before anything is known: also what server rendering shows. */
export const LOADING_KEY: KeyState<never> = Object.freeze({
  value: null,
  revision: -1,
  status: 'loading',
  error: undefined,
  pending: false,
})

/** The state of every prefix before anything is known: also what server rendering shows. */
export const LOADING_PREFIX: PrefixState<never> = Object.freeze({
  entries: new Map<string, never>(),
  status: 'loading',
  error: undefined,
})

/** A value that can be read now and listened to for changes: the shape of every cache handle. */
export interface Observable<S> {
  /** The current state; the same object until something changed. */
  get(): S
  /**
   * Calls `listener` (without arguments, not at once) after each change; returns
   * the function that stops it. While any listener is attached the path is watched.
   */
  listen(listener: () => void): () => void
}

/** How a write through the cache shows before the server answers. */
export interface CacheWriteOptions {
  /**
   * Show the write's expected value at once, with `pending: true`, until the
   * server answers; on a conflict given up or an error, the server's value
   * shows again. Default `true`. Only a key that is being watched shows it.
   */
  optimistic?: boolean
}

/** `client.modify()`'s options, and `optimistic`. */
export interface CacheModifyOptions extends ModifyOptions, CacheWriteOptions {}

/**
 * A modify function as an observer hands it over: `current` is `V`, which is
 * `T` rather than `T | null` where an `initialValue` stands for a missing key.
 */
export type KeyModifier<T, V = T | null> = (current: V, revision: number) => T | undefined | PromiseLike<T | undefined>

/** A live key: read it, listen to it, write it. */
export interface KeyHandle<T = unknown> extends Observable<KeyState<T>> {
  readonly key: string
  /** The state before the stream: `hydrate()`'s, else loading. What server rendering shows. */
  initial?(): KeyState<T>
  /** Force-set; resolves to the new revision. Shown at once unless `optimistic: false`. */
  set(value: T, options?: CacheWriteOptions): Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn` sees only values the
   * server confirmed, and runs again after a conflict. Returning `undefined`
   * aborts. Resolves to the committed value, or `undefined` when aborted.
   *
   * Unless `optimistic: false`, the state shows `fn`'s result at once (folded
   * over the newest confirmed value, after this client's other pending
   * writes), so `fn` is also called for display: keep it free of side effects.
   */
  modify(fn: Modifier<T>, options?: CacheModifyOptions): Promise<T | undefined>
  /**
   * Removes the key (`client.delete`): `true` when removed, `false` when it
   * was missing or, with `revision`, at another one. The state goes to
   * missing (`value: null`, `revision: -1`) when the stream brings the removal.
   */
  remove(options?: DeleteOptions): Promise<boolean>
}

/** A live prefix: every key under it. */
export interface PrefixHandle<T = unknown> extends Observable<PrefixState<T>> {
  readonly prefix: string
}

export interface CacheOptions {
  /** How long a key or prefix stays subscribed after its last listener left. Default 1000; `0` stops at once. */
  releaseDelayMs?: number
}

export const DEFAULT_RELEASE_DELAY_MS = 1000

/** Keys with their `[value, revision]` (`[null, -1]`: missing), read on a server for `cache.hydrate()`: `prefetch()`'s result. */
export type Prefetched = Readonly<Record<string, readonly [value: unknown, revision: number]>>
