// One key: its value, revision and status, rebuilt across a `reset`, and
// shown with this client's writes in flight (optimistic.ts).

import type { WatchEvent } from '../types.js'
import { sameJSON } from './json.js'
import { CachedPath, type CacheHost } from './lifecycle.js'
import { Optimistic, sameState, type PendingWrite } from './optimistic.js'
import { LOADING_KEY, type KeyState } from './types.js'

const MISSING: KeyState<never> = Object.freeze({
  value: null,
  revision: -1,
  status: 'ready',
  error: undefined,
  pending: false,
})

export class CachedKey extends CachedPath<KeyState> {
  // What the server said: the stream, and its answers to our writes. `state`,
  // what listeners see, is this with the writes in flight folded over it.
  #confirmed: KeyState = LOADING_KEY
  readonly #optimistic = new Optimistic()
  // Between a `reset` and its `ready`: a key that gets no value by then is gone.
  #rebuilding = false
  #seen = false

  /** The state it was given by `hydrate()`: what server rendering showed, and the first client render shows. */
  hydrated: KeyState | undefined

  constructor(key: string, host: CacheHost) {
    super(key, host, LOADING_KEY)
  }

  /**
   * Starts from a value read elsewhere (a server's prefetch) instead of
   * loading. The stream then checks it like a `reset`'s rebuild: a changed
   * value replaces it, and a key its first snapshot lacks is missing.
   */
  hydrate(value: unknown, revision: number): void {
    if (this.#confirmed.status !== 'loading') return
    const state: KeyState =
      revision < 0 ? MISSING : Object.freeze({ value, revision, status: 'ready', error: undefined, pending: false })
    this.hydrated = state
    this.#rebuilding = true
    this.#confirm(state)
  }

  protected onEvent(event: WatchEvent): void {
    const current = this.#confirmed
    switch (event.type) {
      case 'value':
        if (event.key !== this.path) return
        this.#seen = true
        // Equality is by revision. Only across a reset (a server restart, an
        // expired key written again) may one revision mean another value.
        if (
          current.status === 'ready' &&
          current.revision === event.revision &&
          (!this.#rebuilding || sameJSON(current.value, event.value))
        ) {
          return
        }
        return this.#confirm(
          Object.freeze({ value: event.value, revision: event.revision, status: 'ready', error: undefined, pending: false }),
        )
      case 'delete':
        if (event.key !== this.path) return
        this.#seen = false
        return this.#confirm(MISSING)
      case 'reset':
        this.#rebuilding = true
        this.#seen = false
        return
      case 'ready':
        if ((current.status === 'loading' || this.#rebuilding) && !this.#seen) this.#confirm(MISSING)
        this.#rebuilding = false
        this.#seen = false
        return
      case 'error':
        return this.#confirm(Object.freeze({ ...current, status: 'error', error: event.error }))
    }
  }

  /**
   * `[value, revision]` while the key's state is current (ready, not being
   * rebuilt): the confirmed one, never what pending writes show.
   */
  known(key: string): readonly [unknown, number] | undefined {
    const { status, value, revision } = this.#confirmed
    return key === this.path && status === 'ready' && !this.#rebuilding ? [value, revision] : undefined
  }

  confirm(key: string, value: unknown, revision: number): void {
    const current = this.#confirmed
    // Only the very next revision: the stream has delivered everything before
    // it, so the echo will be dropped as equal and nothing older can follow.
    if (key !== this.path || current.status !== 'ready' || this.#rebuilding) return
    if (revision !== current.revision + 1) return
    this.#confirm(Object.freeze({ value, revision, status: 'ready', error: undefined, pending: false }))
  }

  /** Shows `fn`'s expected value until `settle`. */
  begin(fn: PendingWrite['fn']): PendingWrite {
    const write = this.#optimistic.add(fn)
    this.#show()
    return write
  }

  /**
   * Ends `write`: with `committed` (the value as stored and its revision) it
   * shows as the server's value; without, it is dropped. Call it before the
   * cache confirms the same write, so no view ever shows it twice.
   */
  settle(write: PendingWrite, committed?: { value: unknown; revision: number }): void {
    this.#optimistic.settle(write, committed, this.#confirmed)
    this.#show()
  }

  #confirm(next: KeyState): void {
    this.#optimistic.confirmed(this.#confirmed, next)
    this.#confirmed = next
    this.#show()
  }

  #show(): void {
    const next = this.#optimistic.show(this.#confirmed)
    // A state is replaced only when what it shows changed.
    if (sameState(next, this.state)) return
    this.publish(next === this.#confirmed ? next : Object.freeze(next))
  }
}
