// One key: its value, revision and status, rebuilt across a `reset`.

import type { WatchEvent } from '../types.js'
import { sameJSON } from './json.js'
import { CachedPath, type CacheHost } from './lifecycle.js'
import { LOADING_KEY, type KeyState } from './types.js'

const MISSING: KeyState<never> = Object.freeze({ value: null, revision: -1, status: 'ready', error: undefined })

export class CachedKey extends CachedPath<KeyState> {
  // Between a `reset` and its `ready`: a key that gets no value by then is gone.
  #rebuilding = false
  #seen = false

  constructor(key: string, host: CacheHost) {
    super(key, host, LOADING_KEY)
  }

  protected onEvent(event: WatchEvent): void {
    const current = this.state
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
        return this.publish(Object.freeze({ value: event.value, revision: event.revision, status: 'ready', error: undefined }))
      case 'delete':
        if (event.key !== this.path) return
        this.#seen = false
        return this.publish(MISSING)
      case 'reset':
        this.#rebuilding = true
        this.#seen = false
        return
      case 'ready':
        if ((current.status === 'loading' || this.#rebuilding) && !this.#seen) this.publish(MISSING)
        this.#rebuilding = false
        this.#seen = false
        return
      case 'error':
        return this.publish(Object.freeze({ ...current, status: 'error', error: event.error }))
    }
  }

  /** `[value, revision]` while the key's state is current (ready, not being rebuilt). */
  known(key: string): readonly [unknown, number] | undefined {
    const { status, value, revision } = this.state
    return key === this.path && status === 'ready' && !this.#rebuilding ? [value, revision] : undefined
  }

  confirm(key: string, value: unknown, revision: number): void {
    const current = this.state
    // Only the very next revision: the stream has delivered everything before
    // it, so the echo will be dropped as equal and nothing older can follow.
    if (key !== this.path || current.status !== 'ready' || this.#rebuilding) return
    if (revision !== current.revision + 1) return
    this.publish(Object.freeze({ value, revision, status: 'ready', error: undefined }))
  }
}
