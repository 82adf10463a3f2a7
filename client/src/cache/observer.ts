// What one consumer (a component, a store) sees of a cached key: the key's
// state through its `initialValue`, `select` and `isEqual`. Both adapters sit
// on this; neither knows how a view is made.

import type { DeleteOptions } from '../client.js'
import type { AtomKVError } from '../errors.js'
import type { Modifier, ModifyOptions } from '../modify.js'
import { LOADING_KEY, type CacheStatus, type KeyHandle, type KeyState, type Observable } from './types.js'

export interface KeyObserverOptions<T, S = T | null> {
  /** Shown as `value` while the key is loading (and in server rendering). */
  initialValue?: T
  /**
   * Shows a slice: `value` becomes `select(value)`, and the view changes only
   * when the slice (by `isEqual`), the status or the error changed.
   */
  select?: (value: T | null) => S
  /** Compares two slices. Default `Object.is`. */
  isEqual?: (a: S, b: S) => boolean
}

/** What a consumer of one key sees. */
export interface KeyView<S> {
  /** The value (or its `select`ed slice); `null` for a missing key; `initialValue` while loading. */
  readonly value: S
  /**
   * The revision of `value`, `-1` for a missing key or while loading. With
   * `select`, the revision as of the last change of the view (a new revision
   * with the same slice does not change it).
   */
  readonly revision: number
  readonly status: CacheStatus
  /** Why the subscription failed, when status is `error`. */
  readonly error: AtomKVError | undefined
}

/** The view of one state, remembered until the state or the options change. */
interface Memo<T, S> {
  state: KeyState<T> | undefined
  options: KeyObserverOptions<T, S> | undefined
  view: KeyView<S> | undefined
}

/**
 * A key seen through `initialValue`, `select` and `isEqual`. `get()` returns
 * the same frozen view until what it shows changed, and listeners hear only
 * of such changes: the identity contract of `useSyncExternalStore` and Svelte
 * stores. Its methods are bound, so they can be passed around.
 */
export class KeyObserver<T = unknown, S = T | null> implements Observable<KeyView<S>> {
  #options: KeyObserverOptions<T, S>
  readonly #current: Memo<T, S> = { state: undefined, options: undefined, view: undefined }
  readonly #initial: Memo<T, S> = { state: undefined, options: undefined, view: undefined }

  constructor(
    readonly handle: KeyHandle<T>,
    options: KeyObserverOptions<T, S> = {},
  ) {
    this.#options = options
  }

  /** Takes new options (a component's, at each render); the view changes only if what it shows does. */
  setOptions(options: KeyObserverOptions<T, S>): void {
    const now = this.#options
    if (options.initialValue === now.initialValue && options.select === now.select && options.isEqual === now.isEqual) {
      return
    }
    this.#options = options
  }

  /** The view of the key's current state. */
  readonly get = (): KeyView<S> => this.#view(this.handle.get(), this.#current)

  /** The view before anything is known (`initialValue`, status `loading`): what server rendering shows. */
  readonly getInitial = (): KeyView<S> => this.#view(LOADING_KEY, this.#initial)

  /** Calls `listener` after each change of the view; watches the key while any listener is attached. */
  readonly listen = (listener: () => void): (() => void) => {
    let last = this.get()
    return this.handle.listen(() => {
      const next = this.get()
      if (next === last) return
      last = next
      listener()
    })
  }

  /** Force-set; resolves to the new revision. */
  readonly set = (value: T): Promise<number> => this.handle.set(value)

  /** The compare-and-swap retry loop; resolves to the committed value, `undefined` when `fn` aborted. */
  readonly modify = (fn: Modifier<T>, options?: ModifyOptions): Promise<T | undefined> => this.handle.modify(fn, options)

  /** Deletes the key (with `revision`, only at that one); `true` when removed. The view goes to missing. */
  readonly remove = (options?: DeleteOptions): Promise<boolean> => this.handle.remove(options)

  #view(state: KeyState<T>, memo: Memo<T, S>): KeyView<S> {
    const options = this.#options
    if (memo.view && memo.state === state && memo.options === options) return memo.view
    const { initialValue, select } = options
    const raw = state.status === 'loading' && initialValue !== undefined ? initialValue : state.value
    const next: KeyView<S> = Object.freeze({
      value: select ? select(raw) : (raw as S),
      revision: state.revision,
      status: state.status,
      error: state.error,
    })
    memo.state = state
    memo.options = options
    if (!memo.view || !this.#same(memo.view, next)) memo.view = next
    return memo.view
  }

  // Without `select` a view changes with the revision; with it, only with the slice.
  #same(a: KeyView<S>, b: KeyView<S>): boolean {
    if (a.status !== b.status || a.error !== b.error) return false
    const { select, isEqual = Object.is } = this.#options
    return select ? isEqual(a.value, b.value) : a.revision === b.revision && Object.is(a.value, b.value)
  }
}
