// useAtomKV for Suspense: the component suspends until the key's value is
// known, so it never renders a loading state of its own.

import type { KeyHandle, KeyState } from '@atomkv/client'
import { useAtomKV, type UseAtomKVOptions, type UseAtomKVResult } from './use-atomkv.js'
import { useAtomKVContext } from './context.js'

/** One promise per key while it loads: every component suspended on it waits on the same one. */
const loading = new WeakMap<object, Map<string, Promise<void>>>()

function untilLoaded(owner: object, handle: KeyHandle): Promise<void> {
  let byKey = loading.get(owner)
  if (!byKey) loading.set(owner, (byKey = new Map()))
  let promise = byKey.get(handle.key)
  if (!promise) {
    promise = new Promise<void>((resolve) => {
      // Listening keeps the key watched until it loads; the component that mounts then listens on its own.
      const stop = handle.listen(() => {
        if (handle.get().status === 'loading') return
        stop()
        byKey.delete(handle.key)
        resolve()
      })
    })
    byKey.set(handle.key, promise)
  }
  return promise
}

/**
 * `useAtomKV(key)`, suspending while the key loads: wrap it in `<Suspense>`.
 * `status` is then never `loading`; a failed subscription is thrown to the
 * nearest error boundary. With the provider's `initialData` holding the key
 * (a server's `prefetch`), it does not suspend at all. On a server without
 * that data it throws: a server render cannot wait for a stream.
 */
export function useAtomKVSuspense<T = unknown, S = T | null>(
  key: string,
  options?: UseAtomKVOptions<T, S>,
): UseAtomKVResult<T, S> {
  const client = useAtomKVContext('useAtomKVSuspense')
  const result = useAtomKV<T, S>(key, options)
  if (result.status === 'error') throw result.error
  if (result.status === 'loading') {
    if (typeof window === 'undefined') {
      throw new Error(
        `useAtomKVSuspense(${JSON.stringify(key)}) has no value to render on the server: ` +
          'read it there with prefetch() and pass it to <AtomKVProvider initialData={…}>',
      )
    }
    const handle = client.cache.key(key)
    if ((handle.get() as KeyState).status === 'loading') throw untilLoaded(client.cache, handle)
  }
  return result
}
