// What one consumer (a component, a store) sees of a cached key: the key's
// state through its `initialValue`, `select` and `isEqual`. Both adapters sit
// on this; neither knows how a view is made.

import type { DeleteOptions } from '../client.js'
import type { AtomKVError } from '../errors.js'
import {
  LOADING_KEY,
  type CacheModifyOptions,
  type CacheStatus,
  type CacheWriteOptions,
  type KeyHandle,
  type KeyModifier,
  type KeyState,
  type Observable,
} from './types.js'

/**
 * `V` is the value before `select`: `T | null`, or `T` where `initialValue`
 * stands for `null` (the adapters' types pick it; at run time they are one).
 */
export interface KeyObserverOptions<T, S = T | null, V = T | null> {
  /**
   * Stands for `null`: shown as `value` while the key is loading (and in
   * server rendering) and while it is missing, and handed to `modify`
   * functions as `current` for a missing key.
   */
  initialValue?: T
  /**
   * Shows a slice: `value` becomes `select(value)`, and the view changes only
   * when the slice (by `isEqual`), the status, the error or `pending` changed.
   */
  select?: (value: V) => S
  /** Compares two slices. Default `Object.is`. */
  isEqual?: (a: S, b: S) => boolean
  /**
   * Whether `set` and `modify` show their value at once, `pending` (default
   * `true`); a call's own `{ optimistic }` overrides it.
   */
  optimistic?: boolean
}

/** What a consumer of one key sees. */
export interface KeyView<S> {
  /**
   * The value (or its `select`ed slice); `null` for a missing key, unless
   * `initialValue` stands for it (also while loading). With a write of this
   * client in flight, the value it expects (`pending`).
   */
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
  /**
   * `true` while a write of this client (`set`, `modify`) is in flight and
   * shown optimistically: `value` is what it expects, not yet what the server
   * confirmed. It falls back to the server's value if the write fails.
   */
  readonly pending: boolean
}

/** The view of one state, remembered until the state or the options change. */
interface Memo<T, S> {
  state: KeyState<T> | undefined
  options: object | undefined
  view: KeyView<S> | undefined
}

/**
 * A key seen through `initialValue`, `select` and `isEqual`. `get()` returns
 * the same frozen view until what it shows changed, and listeners hear only
 * of such changes: the identity contract of `useSyncExternalStore` and Svelte
 * stores. Its methods are bound, so they can be passed around.
 */
export class KeyObserver<T = unknown, S = T | null, V = T | null> implements Observable<KeyView<S>> {
  #options: KeyObserverOptions<T, S, V>
  readonly #current: Memo<T, S> = { state: undefined, options: undefined, view: undefined }
  readonly #initial: Memo<T, S> = { state: undefined, options: undefined, view: undefined }

  constructor(
    readonly handle: KeyHandle<T>,
    options: KeyObserverOptions<T, S, V> = {},
  ) {
    this.#options = options
  }

  /** Takes new options (a component's, at each render); the view changes only if what it shows does. */
  setOptions(options: KeyObserverOptions<T, S, V>): void {
    const now = this.#options
    if (
      options.initialValue === now.initialValue &&
      options.select === now.select &&
      options.isEqual === now.isEqual &&
      options.optimistic === now.optimistic
    ) {
      return
    }
    this.#options = options
  }

  /** The view of the key's current state. */
  readonly get = (): KeyView<S> => this.#view(this.handle.get(), this.#current)

  /**
   * The view before the stream: of the hydrated state (`cache.hydrate()`), else
   * loading (`initialValue`). What server rendering shows, and the first client render.
   */
  readonly getInitial = (): KeyView<S> => this.#view(this.handle.initial?.() ?? LOADING_KEY, this.#initial)

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

  /** Force-set; resolves to the new revision. Shown at once unless optimistic is off. */
  readonly set = (value: T, options?: CacheWriteOptions): Promise<number> =>
    this.handle.set(value, { optimistic: this.#options.optimistic, ...options })

  /**
   * The compare-and-swap retry loop; resolves to the committed value,
   * `undefined` when `fn` aborted. `fn` gets `initialValue` for a missing key.
   */
  readonly modify = (fn: KeyModifier<T, V>, options?: CacheModifyOptions): Promise<T | undefined> => {
    const { initialValue } = this.#options
    const run =
      initialValue === undefined
        ? (fn as KeyModifier<T>)
        : (current: T | null, revision: number) => fn((current ?? initialValue) as V, revision)
    return this.handle.modify(run, { optimistic: this.#options.optimistic, ...options })
  }

  /** Deletes the key (with `revision`, only at that one); `true` when removed. The view goes to missing. */
  readonly remove = (options?: DeleteOptions): Promise<boolean> => this.handle.remove(options)

  #view(state: KeyState<T>, memo: Memo<T, S>): KeyView<S> {
    const options = this.#options
    if (memo.view && memo.state === state && memo.options === options) return memo.view
    const { initialValue, select } = options
    const raw = (state.value === null && initialValue !== undefined ? initialValue : state.value) as V
    const next: KeyView<S> = Object.freeze({
      value: select ? select(raw) : (raw as unknown as S),
      revision: state.revision,
      status: state.status,
      error: state.error,
      pending: state.pending,
    })
    memo.state = state
    memo.options = options
    if (!memo.view || !this.#same(memo.view, next)) memo.view = next
    return memo.view
  }

  // Without `select` a view changes with the revision; with it, only with the slice.
  #same(a: KeyView<S>, b: KeyView<S>): boolean {
    if (a.status !== b.status || a.error !== b.error || a.pending !== b.pending) return false
    const { select, isEqual = Object.is } = this.#options
    return select ? isEqual(a.value, b.value) : a.revision === b.revision && Object.is(a.value, b.value)
  }
}
