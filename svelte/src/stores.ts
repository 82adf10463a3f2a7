// Svelte stores over the client's cache: a key, a prefix, the connection status.
// Each store subscribes through `client.cache`, so every store and
// component on one key shares one cached key and one subscription: the first
// subscriber starts it, the last one stops it after the cache's release delay.

import {
  KeyObserver,
  type AtomKVClient,
  type AtomKVError,
  type CacheStatus,
  type ConnectionStatus,
  type DeleteOptions,
  type KeyView,
  type Modifier,
  type ModifyOptions,
  type PrefixItem,
  type PrefixState,
} from '@atomkv/client'
import { resolveClient } from './context.js'
import { live, type Live } from './live.js'

export interface AtomKVStoreOptions<T> {
  /** The client; by default the one set with `setAtomKVClient` in a parent component. */
  client?: AtomKVClient
  /** The store's value while the key is loading (and during server rendering). Default `null`. */
  initialValue?: T
}

/** A live key: `$store` is its value, `null` when the key is missing. */
export interface AtomKVStore<T> extends Live<T | null> {
  readonly key: string
  /**
   * Force-set; resolves to the new revision. `$store = v` calls it (so it is a
   * last-writer-wins write of `v`; use `modify` to build on the current value).
   */
  set(value: T): Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn(current, revision)`
   * sees only server-confirmed values, runs again after a conflict, and aborts
   * when it returns `undefined`. Resolves to the committed value (`undefined`
   * when aborted); rejects with `AtomKVConflictError` if it gives up.
   */
  modify(fn: Modifier<T>, options?: ModifyOptions): Promise<T | undefined>
  /** `modify` under the name the Svelte store contract gives it: the same function. */
  update(fn: Modifier<T>, options?: ModifyOptions): Promise<T | undefined>
  /**
   * Deletes the key (`client.delete`; with `{ revision }`, only at that
   * revision): `true` when removed. `$store` then becomes `null`, and prefix
   * stores drop the key.
   */
  remove(options?: DeleteOptions): Promise<boolean>
  /** `loading` until the current value arrived, then `ready`; `error` if the subscription failed. */
  readonly status: Live<CacheStatus>
  readonly error: Live<AtomKVError | undefined>
  /** The value's revision; `-1` for a missing key and while loading. */
  readonly revision: Live<number>
}

/** The live value of `key`, as a Svelte store (with `.current` for runes code). */
export function atomkv<T = unknown>(key: string, options: AtomKVStoreOptions<T> = {}): AtomKVStore<T> {
  const handle = resolveClient(options.client).cache.key<T>(key)
  const observer = new KeyObserver<T>(handle, { initialValue: options.initialValue })
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
  }
}

export interface AtomKVPrefixOptions {
  /** The client; by default the one set with `setAtomKVClient` in a parent component. */
  client?: AtomKVClient
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
export function atomkvStatus(options: { client?: AtomKVClient } = {}): Live<ConnectionStatus> {
  const client = resolveClient(options.client)
  return live({ get: () => client.status, listen: (listener) => client.onStatus(() => listener()) }, (s) => s)
}
