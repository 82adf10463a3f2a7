// One live key in a component: its value, revision, status and pending flag,
// plus writers. What the component sees is a KeyObserver's view (the
// client's); this file only ties it to React.

import {
  KeyObserver,
  type CacheModifyOptions,
  type CacheWriteOptions,
  type DeleteOptions,
  type KeyModifier,
  type KeyObserverOptions,
  type KeyView,
} from '@atomkv/client'
import { useMemo, useSyncExternalStore } from 'react'
import { useAtomKVContext } from './context.js'

/**
 * `initialValue` (stands for `null`: shown while loading, in server rendering
 * and while the key is missing, and given to `modify` for a missing key; it
 * makes `value` a `T`), `select` (the component re-renders only when its
 * slice, by `isEqual`, the status, the error or `pending` changed), `isEqual`
 * (default `Object.is`) and `optimistic` (the default of this hook's writes,
 * `true`). `V` is what `select` and `modify` get: `T`, with an `initialValue`.
 */
export type UseAtomKVOptions<T, S = T | null, V = T | null> = KeyObserverOptions<T, S, V>

/** What `useAtomKV` returns: the key's view (`value`, `revision`, `status`, `error`, `pending`), and its writers. */
export interface UseAtomKVResult<T, S = T | null, V = T | null> extends KeyView<S> {
  /**
   * Force-set; resolves to the new revision. Shown at once, `pending`, unless
   * `{ optimistic: false }` (or the hook's `optimistic: false`).
   */
  readonly set: (value: T, options?: CacheWriteOptions) => Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn(current, revision)`
   * sees only server-confirmed values, runs again after a conflict, and aborts
   * when it returns `undefined`. Resolves to the committed value (`undefined`
   * when aborted); rejects with `AtomKVConflictError` if it gives up.
   *
   * Optimistic unless `{ optimistic: false }`: `value` shows `fn`'s result at
   * once, after this client's other pending writes, with `pending` true, and
   * the server's value again if it fails. `fn` is then also called to show
   * it: keep it free of side effects.
   */
  readonly modify: (fn: KeyModifier<T, V>, options?: CacheModifyOptions) => Promise<T | undefined>
  /**
   * Deletes the key (`client.delete`; with `{ revision }`, only at that
   * revision): `true` when removed. Every component on it then shows it
   * missing (`value` `null`, or `initialValue`; `revision` `-1`), and prefix maps drop it.
   */
  readonly remove: (options?: DeleteOptions) => Promise<boolean>
}

/**
 * The live value of `key`. Every component on one key shares one cached key
 * and one subscription; the first one mounted starts it. With an
 * `initialValue`, `value` is never `null`: `useAtomKV('/counter', { initialValue: 0 }).value`
 * is a `number`.
 */
export function useAtomKV<T = unknown, S = T>(
  key: string,
  options: UseAtomKVOptions<T, S, T> & { initialValue: T },
): UseAtomKVResult<T, S, T>
export function useAtomKV<T = unknown, S = T | null>(key: string, options?: UseAtomKVOptions<T, S>): UseAtomKVResult<T, S>
export function useAtomKV<T, S>(key: string, options: UseAtomKVOptions<T, S> = {}): UseAtomKVResult<T, S> {
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
