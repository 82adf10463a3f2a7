// Every key under a prefix, live: for lists and boards.

import { LOADING_PREFIX, type PrefixState } from '@atomkv/client'
import { useMemo, useSyncExternalStore } from 'react'
import { useAtomKVContext } from './context.js'

const serverSnapshot = (): PrefixState => LOADING_PREFIX

/**
 * `{ entries, status, error }` for `prefix` (which ends with `/`): `entries`
 * maps each existing key under it to `{ value, revision }`, in the order the
 * keys were first seen. The map is a new object only when a key changed, and
 * an unchanged key keeps its `{ value, revision }` object.
 */
export function useAtomKVPrefix<T = unknown>(prefix: string): PrefixState<T> {
  const { cache } = useAtomKVContext('useAtomKVPrefix')
  const store = useMemo(() => cache.prefix<T>(prefix), [cache, prefix])
  return useSyncExternalStore(store.listen, store.get, serverSnapshot as () => PrefixState<T>)
}
