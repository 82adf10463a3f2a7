// Svelte stores over the client's cache: a key, a prefix, the connection status.
// Each store subscribes through `client.cache`, so every store and
// component on one key shares one cached key and one subscription: the first
// subscriber starts it, the last one stops it after the cache's release delay.

import {
  KeyObserver,
  type AnyAtomKVClient,
  type AtomKVError,
  type CacheModifyOptions,
  type CacheStatus,
  type CacheWriteOptions,
  type ConnectionStatus,
  type DeleteOptions,
  type KeyModifier,
  type KeyView,
  type PrefixItem,
  type PrefixState,
} from '@atomkv/client'
import { resolveClient } from './context.js'
import { live, type Live } from './live.js'

export interface AtomKVStoreOptions<T> {
  /** The client; by default the one set with `setAtomKVClient` in a parent component. */
  client?: AnyAtomKVClient
  /**
   * Stands for `null`: the store's value while the key is loading (in server
   * rendering too, unless it was hydrated) and while it is missing, and
   * `current` for `modify` on a missing key. It makes `$store` a `T`.
   * Default: none (`null` shows).
   */
  initialValue?: T
  /** Whether `set`, `modify` and `update` show their value at once, `pending`. Default `true`; a call's option wins. */
  optimistic?: boolean
}

/**
 * A live key: `$store` is its value, `null` when the key is missing (`V` is
 * `T | null`), or `T` with an `initialValue`.
 */
export interface AtomKVStore<T, V = T | null> extends Live<V> {
  readonly key: string
  /**
   * Force-set; resolves to the new revision. `$store = v` calls it (so it is a
   * last-writer-wins write of `v`; use `modify` to build on the current value).
   * Shown at once, `pending`, unless `{ optimistic: false }`.
   */
  set(value: T, options?: CacheWriteOptions): Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn(current, revision)`
   * sees only server-confirmed values, runs again after a conflict, and aborts
   * when it returns `undefined`. Resolves to the committed value (`undefined`
   * when aborted); rejects with `AtomKVConflictError` if it gives up.
   *
   * Optimistic unless `{ optimistic: false }`: `$store` shows `fn`'s result
   * at once, after this client's other pending writes, `.pending` is true, and
   * the server's value shows again if it fails. `fn` is then also called to
   * show it: keep it free of side effects.
   */
  modify(fn: KeyModifier<T, V>, options?: CacheModifyOptions): Promise<T | undefined>
  /** `modify` under the name the Svelte store contract gives it: the same function. */
  update(fn: KeyModifier<T, V>, options?: CacheModifyOptions): Promise<T | undefined>
  /**
   * Deletes the key (`client.delete`; with `{ revision }`, only at that
   * revision): `true` when removed. `$store` then becomes `null`, and prefix
   * stores drop the key.
   */
  remove(options?: DeleteOptions): Promise<boolean>
  /** `loading` until the current value arrived, then `ready`; `error` if the subscription failed. */
  readonly status: Live<CacheStatus>
  readonly error: Live<AtomKVError | undefined>
  /** The server's revision of the value; `-1` for a missing key and while loading. */
  readonly revision: Live<number>
  /** `true` while a write of this client shows before the server confirmed it. */
  readonly pending: Live<boolean>
}

/**
 * The live value of `key`, as a Svelte store (with `.current` for runes code).
 * With an `initialValue`, `$store` is never `null`.
 */
export function atomkv<T = unknown>(key: string, options: AtomKVStoreOptions<T> & { initialValue: T }): AtomKVStore<T, T>
export function atomkv<T = unknown>(key: string, options?: AtomKVStoreOptions<T>): AtomKVStore<T>
export function atomkv<T>(key: string, options: AtomKVStoreOptions<T> = {}): AtomKVStore<T> {
  const handle = resolveClient(options.client).cache.key<T>(key)
  const observer = new KeyObserver<T>(handle, { initialValue: options.initialValue, optimistic: options.optimistic })
  const value = live(observer, (view: KeyView<T | null>) => view.value)
  return {
    key,
    subscribe: value.subscribe,
    get current() {
      return value.current
    },
    set: observer.set,
    modify: observer.modify,
    update: observer.modify,
    remove: observer.remove,
    status: live(observer, (view) => view.status),
    error: live(observer, (view) => view.error),
    revision: live(observer, (view) => view.revision),
    pending: live(observer, (view) => view.pending),
  }
}

export interface AtomKVPrefixOptions {
  /** The client; by default the one set with `setAtomKVClient` in a parent component. */
  client?: AnyAtomKVClient
}

/**
 * Every key under a prefix, live: `$store` is a `ReadonlyMap` of key →
 * `{ value, revision }`, in the order the keys were first seen. The map is a
 * new object only when something changed; an unchanged key keeps its item.
 */
export interface AtomKVPrefixStore<T> extends Live<ReadonlyMap<string, PrefixItem<T>>> {
  readonly prefix: string
  readonly status: Live<CacheStatus>
  readonly error: Live<AtomKVError | undefined>
}

/** Every key under `prefix` (which ends with `/`), as a Svelte store of a `ReadonlyMap`. */
export function atomkvPrefix<T = unknown>(prefix: string, options: AtomKVPrefixOptions = {}): AtomKVPrefixStore<T> {
  const handle = resolveClient(options.client).cache.prefix<T>(prefix)
  const entries = live(handle, (state: PrefixState<T>) => state.entries)
  return {
    prefix,
    subscribe: entries.subscribe,
    get current() {
      return entries.current
    },
    status: live(handle, (state) => state.status),
    error: live(handle, (state) => state.error),
  }
}

/**
 * The client's connection status as a store: `connecting`, `open`,
 * `reconnecting`, or `closed` (also while nothing is subscribed).
 */
export function atomkvStatus(options: { client?: AnyAtomKVClient } = {}): Live<ConnectionStatus> {
  const client = resolveClient(options.client)
  return live({ get: () => client.status, listen: (listener) => client.onStatus(() => listener()) }, (s) => s)
}
