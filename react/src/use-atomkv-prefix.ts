// Every key under a prefix, live: for lists and boards.

import { LOADING_PREFIX, type PrefixState } from '@atomkv/client'
import { useMemo, useSyncExternalStore } from 'react'
import { useAtomKVContext } from './context.js'

/** Server rendering shows a prefix loading. */
const loading = (): PrefixState => LOADING_PREFIX

/**
 * `{ entries, status, error }` for `prefix` (which ends with `/`): `entries`
 * maps each existing key under it to `{ value, revision }`, in the order the
 * keys were first seen. The map is a new object only when a key changed, and
 * an unchanged key keeps its `{ value, revision }` object.
 */
export function useAtomKVPrefix<T = unknown>(prefix: string): PrefixState<T> {
  const { cache } = useAtomKVContext('useAtomKVPrefix')
  const handle = useMemo(() => cache.prefix<T>(prefix), [cache, prefix])
  return useSyncExternalStore(handle.listen, handle.get, loading as () => PrefixState<T>)
}
