export { setAtomKVClient, getAtomKVClient } from './context.js'
export {
  atomkv,
  atomkvPrefix,
  atomkvStatus,
  type AtomKVStore,
  type AtomKVStoreOptions,
  type AtomKVPrefixStore,
  type AtomKVPrefixOptions,
} from './stores.js'
export type { Live } from './live.js'
export { defineKeys, type TypedAtomKVStores } from './define-keys.js'
export type {
  AnyAtomKVClient,
  AtomKVClient,
  CacheModifyOptions,
  CacheWriteOptions,
  KeyModifier,
  ConnectionStatus,
  CacheStatus,
  Modifier,
  ModifyOptions,
  PrefixItem,
  SchemaKey,
  SchemaPrefix,
  SchemaPrefixValue,
  SchemaValue,
  TypedAtomKVClient,
} from '@atomkv/client'
