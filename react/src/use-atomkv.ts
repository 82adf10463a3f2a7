// One live key in a component: its value, revision and status, plus writers.
// What the component sees is a KeyObserver's view (the client's); this file
// only ties it to React.

import {
  KeyObserver,
  type DeleteOptions,
  type KeyObserverOptions,
  type KeyView,
  type Modifier,
  type ModifyOptions,
} from '@atomkv/client'
import { useMemo, useSyncExternalStore } from 'react'
import { useAtomKVContext } from './context.js'

/**
 * `initialValue` (shown while loading, and in server rendering), `select` (the
 * component re-renders only when its slice, by `isEqual`, the status or the
 * error changed) and `isEqual` (default `Object.is`).
 */
export type UseAtomKVOptions<T, S> = KeyObserverOptions<T, S>

/** What `useAtomKV` returns: the key's view, and its writers. */
export interface UseAtomKVResult<T, S = T | null> extends KeyView<S> {
  /** Force-set; resolves to the new revision. */
  readonly set: (value: T) => Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn(current, revision)`
   * sees only server-confirmed values, runs again after a conflict, and aborts
   * when it returns `undefined`. Resolves to the committed value (`undefined`
   * when aborted); rejects with `AtomKVConflictError` if it gives up.
   */
  readonly modify: (fn: Modifier<T>, options?: ModifyOptions) => Promise<T | undefined>
  /**
   * Deletes the key (`client.delete`; with `{ revision }`, only at that
   * revision): `true` when removed. Every component on it then shows it
   * missing (`value` `null`, `revision` `-1`), and prefix maps drop it.
   */
  readonly remove: (options?: DeleteOptions) => Promise<boolean>
}

/**
 * The live value of `key`. Every component on one key shares one cached key
 * and one subscription; the first one mounted starts it.
 */
export function useAtomKV<T = unknown, S = T | null>(
  key: string,
  options: UseAtomKVOptions<T, S> = {},
): UseAtomKVResult<T, S> {
  const { cache } = useAtomKVContext('useAtomKV')
  const observer = useMemo(() => new KeyObserver<T, S>(cache.key<T>(key)), [cache, key])
  // This render's options: the view changes only if what it shows does.
  observer.setOptions(options)
  const view = useSyncExternalStore(observer.listen, observer.get, observer.getInitial)
  return useMemo(
    () => ({ ...view, set: observer.set, modify: observer.modify, remove: observer.remove }),
    [view, observer],
  )
}
