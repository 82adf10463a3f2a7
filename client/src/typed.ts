// A client typed by a schema of keys (`createClient<Schema>()`, `typed<Schema>(client)`):
// the same object, seen through types that know each key's value. The
// adapters' `defineKeys<Schema>()` take the same schema, so one type
// declares a key for the client, the hooks and the stores.

import type { AtomKVCache } from './cache/cache.js'
import type { SchemaKey, SchemaPrefix, SchemaPrefixValue, SchemaValue } from './cache/schema.js'
import type { CacheModifyOptions, CacheWriteOptions, KeyHandle, PrefixHandle } from './cache/types.js'
import type { AtomKVClient, DeleteOptions } from './client.js'
import type { GetResult } from './http.js'
import type { Modifier, ModifyOptions } from './modify.js'
import type { SubscribeOptions, Subscription, WatchListener, WatchOptions } from './types.js'

/** A key or a prefix of schema `S`. */
export type SchemaPath<S> = SchemaKey<S> | SchemaPrefix<S>

/** What a key (its value) or a prefix (any key under it) of schema `S` holds. */
export type SchemaPathValue<S, P extends string> = P extends `${string}/` ? SchemaPrefixValue<S, P> : SchemaValue<S, P>

/**
 * `AtomKVClient`, typed by `Schema` (`{ '/counter': number; '/todos/': Todo }`,
 * a name ending in `/` types every key under it): a key outside it, or a
 * value not of its key's type, is a type error.
 */
export interface TypedAtomKVClient<Schema> extends Omit<
  AtomKVClient,
  'get' | 'set' | 'update' | 'delete' | 'modify' | 'subscribe' | 'watch' | 'cache'
> {
  get<K extends SchemaKey<Schema>>(key: K): Promise<GetResult<SchemaValue<Schema, K>>>
  set<K extends SchemaKey<Schema>>(key: K, value: SchemaValue<Schema, K>): Promise<number>
  update<K extends SchemaKey<Schema>>(key: K, value: SchemaValue<Schema, K>, revision: number): Promise<boolean>
  delete(key: SchemaKey<Schema>, options?: DeleteOptions): Promise<boolean>
  modify<K extends SchemaKey<Schema>>(
    key: K,
    fn: Modifier<SchemaValue<Schema, K>>,
    options?: ModifyOptions,
  ): Promise<[value: SchemaValue<Schema, K>, revision: number] | undefined>
  subscribe<P extends SchemaPath<Schema>>(path: P, options?: SubscribeOptions): Subscription<SchemaPathValue<Schema, P>>
  watch<P extends SchemaPath<Schema>>(
    path: P,
    listener: WatchListener<SchemaPathValue<Schema, P>>,
    options?: WatchOptions,
  ): () => void
  readonly cache: TypedAtomKVCache<Schema>
}

/** `client.cache` of a typed client. */
export interface TypedAtomKVCache<Schema> extends Omit<AtomKVCache, 'key' | 'prefix' | 'set' | 'modify'> {
  key<K extends SchemaKey<Schema>>(key: K): KeyHandle<SchemaValue<Schema, K>>
  prefix<P extends SchemaPrefix<Schema>>(prefix: P): PrefixHandle<SchemaPrefixValue<Schema, P>>
  set<K extends SchemaKey<Schema>>(key: K, value: SchemaValue<Schema, K>, options?: CacheWriteOptions): Promise<number>
  modify<K extends SchemaKey<Schema>>(
    key: K,
    fn: Modifier<SchemaValue<Schema, K>>,
    options?: CacheModifyOptions,
  ): Promise<[value: SchemaValue<Schema, K>, revision: number] | undefined>
}

/**
 * Any client, typed or not: what the adapters accept (a typed client is not
 * an `AtomKVClient`, whose `get<T>()` promises any `T`).
 */
export type AnyAtomKVClient = AtomKVClient | TypedAtomKVClient<any>

/**
 * `client` typed by `Schema`: the same object (no copy, no cost), for a client
 * made elsewhere (the Vite plugin's `virtual:atomkv`, a provider's).
 */
export function typed<Schema extends object>(client: AnyAtomKVClient): TypedAtomKVClient<Schema> {
  return client as TypedAtomKVClient<Schema>
}

/** The untyped view of any client: the same object. */
export function untyped(client: AnyAtomKVClient): AtomKVClient {
  return client as AtomKVClient
}
