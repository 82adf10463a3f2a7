// A value readable three ways: the Svelte store contract (`$store`, Svelte 4
// and 5), `.current` for runes code, and `get()`-free reads.

import type { Observable } from '@atomkv/client'
import { BROWSER } from 'esm-env'
import type { Readable } from 'svelte/store'
import { createSubscriber } from 'svelte/reactivity'

/** A Svelte readable store that also has `.current`, reactive in runes code. */
export interface Live<V> extends Readable<V> {
  /** The current value; reading it in an effect or template subscribes until that effect ends. */
  readonly current: V
}

/**
 * `pick` of `source` (a key observer, a prefix handle, the client's status),
 * notifying only when the picked value changed. On the server (`esm-env`'s
 * BROWSER is false) it never subscribes and touches no network: server
 * rendering shows what the client's cache holds, the values `cache.hydrate()`
 * gave it (a load's `prefetch`), else the loading state.
 */
export function live<S, V>(source: Observable<S>, pick: (state: S) => V): Live<V> {
  const follow = (onChange: (value: V) => void): (() => void) => {
    if (!BROWSER) return () => {}
    let last = pick(source.get())
    return source.listen(() => {
      const next = pick(source.get())
      if (Object.is(next, last)) return
      last = next
      onChange(next)
    })
  }
  const track = createSubscriber((update) => follow(update))
  return {
    subscribe(run) {
      // The store contract: the current value at once, then every change.
      run(pick(source.get()))
      return follow(run)
    },
    get current() {
      track()
      return pick(source.get())
    },
  }
}
