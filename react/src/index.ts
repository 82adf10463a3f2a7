'use client'
// The provider and the hooks run in the browser: the directive marks this entry
// as client code for React Server Components (the Next.js App Router), so a
// server component can render <AtomKVProvider> around its client components.

export { AtomKVProvider, useAtomKVClient, type AtomKVProviderProps } from './context.js'
export { useAtomKV, type UseAtomKVOptions, type UseAtomKVResult } from './use-atomkv.js'
export { useAtomKVSuspense } from './use-atomkv-suspense.js'
export { useAtomKVPrefix } from './use-atomkv-prefix.js'
export { useAtomKVStatus } from './use-atomkv-status.js'
export { defineKeys, type TypedAtomKVHooks } from './define-keys.js'
export type {
  AnyAtomKVClient,
  AtomKVCache,
  AtomKVClient,
  CacheModifyOptions,
  CacheWriteOptions,
  KeyModifier,
  ConnectionStatus,
  CacheStatus,
  KeyState,
  KeyView,
  Modifier,
  ModifyOptions,
  PrefixItem,
  PrefixState,
  Prefetched,
  SchemaKey,
  SchemaPrefix,
  SchemaPrefixValue,
  SchemaValue,
  TypedAtomKVClient,
} from '@atomkv/client'
