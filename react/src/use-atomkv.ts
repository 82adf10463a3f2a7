// One live key in a component: its value, revision and status, plus writers.

import {
  LOADING_KEY,
  type AtomKVError,
  type CacheStatus,
  type KeyState,
  type Modifier,
  type ModifyOptions,
} from '@atomkv/client'
import { useCallback, useMemo } from 'react'
import withSelector from 'use-sync-external-store/with-selector'
import { useAtomKVContext } from './context.js'

// A CommonJS package: its named export is reached through the default import.
const { useSyncExternalStoreWithSelector } = withSelector

export interface UseAtomKVOptions<T, S> {
  /** Shown as `value` while the key is loading (and during server rendering). */
  initialValue?: T
  /**
   * Renders only a slice: `value` becomes `select(value)`, and the component
   * re-renders only when the slice (by `isEqual`), the status or the error changed.
   */
  select?: (value: T | null) => S
  /** Compares two slices. Default `Object.is`. */
  isEqual?: (a: S, b: S) => boolean
}

export interface AtomKVKeyState<T, S = T | null> {
  /** The value (or its `select`ed slice); `null` for a missing key; `initialValue` while loading. */
  value: S
  /**
   * The revision of `value`, `-1` for a missing key or while loading. With
   * `select`, the revision as of the last render (a new revision with the same
   * slice does not re-render).
   */
  revision: number
  status: CacheStatus
  /** Why the subscription failed, when status is `error`. */
  error: AtomKVError | undefined
  /** Force-set; resolves to the new revision. */
  set: (value: T) => Promise<number>
  /**
   * Compare-and-swap with retries (`client.modify`): `fn(current, revision)`
   * sees only server-confirmed values, runs again after a conflict, and aborts
   * when it returns `undefined`. Resolves to the committed value (`undefined`
   * when aborted); rejects with `AtomKVConflictError` if it gives up.
   */
  update: (fn: Modifier<T>, options?: ModifyOptions) => Promise<T | undefined>
}

type View<S> = Pick<AtomKVKeyState<unknown, S>, 'value' | 'revision' | 'status' | 'error'>

const serverSnapshot = (): KeyState => LOADING_KEY

/**
 * The live value of `key`. Every component on one key shares one cache entry
 * and one subscription; the first one mounted starts it.
 */
export function useAtomKV<T = unknown, S = T | null>(
  key: string,
  options: UseAtomKVOptions<T, S> = {},
): AtomKVKeyState<T, S> {
  const { cache } = useAtomKVContext('useAtomKV')
  const store = useMemo(() => cache.key<T>(key), [cache, key])
  const { initialValue, select, isEqual } = options

  const selector = useCallback(
    (snapshot: KeyState<T>): View<S> => {
      const raw = snapshot.status === 'loading' && initialValue !== undefined ? initialValue : snapshot.value
      return {
        value: select ? select(raw) : (raw as S),
        revision: snapshot.revision,
        status: snapshot.status,
        error: snapshot.error,
      }
    },
    [initialValue, select],
  )
  // Without `select` a view changes with the revision; with it, only with the slice.
  const viewsEqual = useCallback(
    (a: View<S>, b: View<S>) =>
      a.status === b.status &&
      a.error === b.error &&
      (select ? (isEqual ?? Object.is)(a.value, b.value) : a.revision === b.revision && Object.is(a.value, b.value)),
    [select, isEqual],
  )
  const view = useSyncExternalStoreWithSelector(
    store.listen,
    store.get,
    serverSnapshot as () => KeyState<T>,
    selector,
    viewsEqual,
  )

  const set = useCallback((value: T) => store.set(value), [store])
  const update = useCallback((fn: Modifier<T>, opts?: ModifyOptions) => store.modify(fn, opts), [store])
  return useMemo(() => ({ ...view, set, update }), [view, set, update])
}
