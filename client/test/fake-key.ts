// A key handle the test drives by hand, for KeyObserver's tests: `push` sets
// its state and tells its listeners; `writes` records what went through it.

import { LOADING_KEY, type KeyHandle, type KeyState } from '@atomkv/client'

export function fakeKey<T>() {
  let state: KeyState<T> = LOADING_KEY
  const listeners = new Set<() => void>()
  /** `set`: the value, or `[value, options]`; `modify`: its options; `remove`: `['removed', options]`. */
  const writes: unknown[] = []
  const handle: KeyHandle<T> = {
    key: '/k',
    get: () => state,
    listen(listener) {
      const token = () => listener()
      listeners.add(token)
      return () => void listeners.delete(token)
    },
    set: async (value, options) => (writes.push(options ? [value, options] : value), 7),
    modify: async (fn, options) => {
      if (options) writes.push(options)
      return (await fn(state.value, state.revision)) ?? undefined
    },
    remove: async (options) => (writes.push(['removed', options]), true),
  }
  const push = (next: Partial<KeyState<T>>) => {
    state = Object.freeze({ value: null, revision: -1, status: 'ready', error: undefined, pending: false, ...next })
    for (const listener of [...listeners]) listener()
  }
  return { handle, push, listeners, writes }
}
