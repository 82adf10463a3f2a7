// Typed keys: declare each key's value type once, get hooks that know them.
// The schema is the client's too: `createClient<Schema>()`.

import type { PrefixState, SchemaKey, SchemaPrefix, SchemaPrefixValue, SchemaValue } from '@atomkv/client'
import { useAtomKV, type UseAtomKVOptions, type UseAtomKVResult } from './use-atomkv.js'
import { useAtomKVPrefix } from './use-atomkv-prefix.js'

export interface TypedAtomKVHooks<Schema> {
  /**
   * `useAtomKV` with the key's type from the schema: `value` is `Value | null`
   * (null: the key is missing), or `Value` with an `initialValue`.
   */
  useAtomKV<K extends SchemaKey<Schema>, S = SchemaValue<Schema, K>>(
    key: K,
    options: UseAtomKVOptions<SchemaValue<Schema, K>, S, SchemaValue<Schema, K>> & {
      initialValue: SchemaValue<Schema, K>
    },
  ): UseAtomKVResult<SchemaValue<Schema, K>, S, SchemaValue<Schema, K>>
  useAtomKV<K extends SchemaKey<Schema>, S = SchemaValue<Schema, K> | null>(
    key: K,
    options?: UseAtomKVOptions<SchemaValue<Schema, K>, S>,
  ): UseAtomKVResult<SchemaValue<Schema, K>, S>
  /** `useAtomKVPrefix` with the entries' type from the schema. */
  useAtomKVPrefix<P extends SchemaPrefix<Schema>>(prefix: P): PrefixState<SchemaPrefixValue<Schema, P>>
}

/**
 * Hooks typed by a schema of keys: `{ '/counter': number; '/todos/': Todo }`
 * (a name ending in `/` types every key under it). Costs nothing at run time:
 * the hooks are the untyped ones. Give the client the same schema
 * (`createClient<Schema>()`) and one type declares each key everywhere.
 *
 * ```ts
 * export const { useAtomKV, useAtomKVPrefix } = defineKeys<{ '/counter': number; '/todos/': Todo }>()
 * useAtomKV('/counter').value // number | null
 * useAtomKV('/counter', { initialValue: 0 }).value // number
 * ```
 */
export function defineKeys<Schema extends object>(): TypedAtomKVHooks<Schema> {
  return { useAtomKV, useAtomKVPrefix } as TypedAtomKVHooks<Schema>
}
