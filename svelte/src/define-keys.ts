// Typed keys: declare each key's value type once, get store factories that know them.

import type { SchemaKey, SchemaPrefix, SchemaPrefixValue, SchemaValue } from '@atomkv/client'
import {
  atomkv,
  atomkvPrefix,
  type AtomKVPrefixOptions,
  type AtomKVPrefixStore,
  type AtomKVStore,
  type AtomKVStoreOptions,
} from './stores.js'

export interface TypedAtomKVStores<Schema> {
  /**
   * `atomkv` with the key's type from the schema: `$store` is `Value | null`
   * (null: the key is missing), or `Value` with an `initialValue`.
   */
  atomkv<K extends SchemaKey<Schema>>(
    key: K,
    options: AtomKVStoreOptions<SchemaValue<Schema, K>> & { initialValue: SchemaValue<Schema, K> },
  ): AtomKVStore<SchemaValue<Schema, K>, SchemaValue<Schema, K>>
  atomkv<K extends SchemaKey<Schema>>(
    key: K,
    options?: AtomKVStoreOptions<SchemaValue<Schema, K>>,
  ): AtomKVStore<SchemaValue<Schema, K>>
  /** `atomkvPrefix` with the entries' type from the schema. */
  atomkvPrefix<P extends SchemaPrefix<Schema>>(
    prefix: P,
    options?: AtomKVPrefixOptions,
  ): AtomKVPrefixStore<SchemaPrefixValue<Schema, P>>
}

/**
 * Store factories typed by a schema of keys: `{ '/counter': number; '/todos/': Todo }`
 * (a name ending in `/` types every key under it). Costs nothing at run time.
 * Give the client the same schema (`createClient<Schema>()`) and one type
 * declares each key everywhere.
 */
export function defineKeys<Schema extends object>(): TypedAtomKVStores<Schema> {
  return { atomkv, atomkvPrefix } as TypedAtomKVStores<Schema>
}
