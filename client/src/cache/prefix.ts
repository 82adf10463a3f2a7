// Every key under a prefix: a map rebuilt in full after a `reset`, published
// at most once per microtask.

import { covers } from '../protocol/index.js'
import type { WatchEvent } from '../types.js'
import { sameJSON } from './json.js'
import { CachedPath, type CacheHost } from './lifecycle.js'
import { LOADING_PREFIX, type PrefixItem, type PrefixState } from './types.js'

export class CachedPrefix extends CachedPath<PrefixState> {
  // The published map is never mutated: changes go to `#working`, and a new
  // state is made once per microtask, however many events a chunk held.
  #working = new Map<string, PrefixItem>()
  // The state being collected before the first `ready`, or between a `reset` and its `ready`.
  #pending: Map<string, PrefixItem> | undefined = new Map()
  #flushQueued = false

  constructor(prefix: string, host: CacheHost) {
    super(prefix, host, LOADING_PREFIX)
  }

  protected onEvent(event: WatchEvent): void {
    switch (event.type) {
      case 'value': {
        if (!covers(this.path, event.key)) return
        if (this.#pending) {
          this.#pending.set(event.key, Object.freeze({ value: event.value, revision: event.revision }))
          return
        }
        const item = this.#working.get(event.key)
        if (item?.revision === event.revision) return
        this.#working.set(event.key, Object.freeze({ value: event.value, revision: event.revision }))
        return this.#queueFlush()
      }
      case 'delete': {
        if (this.#pending) {
          this.#pending.delete(event.key)
          return
        }
        if (!this.#working.delete(event.key)) return
        return this.#queueFlush()
      }
      case 'reset':
        this.#pending = new Map()
        return
      case 'ready': {
        const pending = this.#pending
        if (!pending) return
        this.#pending = undefined
        // Keep the old item objects where nothing changed, so a list keyed by
        // them re-renders only the rows that did.
        const rebuilt = new Map<string, PrefixItem>()
        for (const [key, item] of pending) {
          const old = this.#working.get(key)
          const same = old && old.revision === item.revision && sameJSON(old.value, item.value)
          rebuilt.set(key, same ? old : item)
        }
        const unchanged =
          this.state.status === 'ready' &&
          rebuilt.size === this.#working.size &&
          [...rebuilt].every(([key, item]) => this.#working.get(key) === item)
        this.#working = rebuilt
        if (!unchanged) this.#flush()
        return
      }
      case 'error':
        this.#flushQueued = false
        return this.publish(Object.freeze({ entries: new Map(this.#working), status: 'error', error: event.error }))
    }
  }

  /** `[value, revision]` of a key under the prefix (`[null, -1]`: missing) while the map is current. */
  known(key: string): readonly [unknown, number] | undefined {
    if (!covers(this.path, key) || this.state.status !== 'ready' || this.#pending) return undefined
    const item = this.#working.get(key)
    return item ? [item.value, item.revision] : [null, -1]
  }

  confirm(key: string, value: unknown, revision: number): void {
    if (!covers(this.path, key) || this.state.status !== 'ready' || this.#pending) return
    const current = this.#working.get(key)?.revision ?? -1
    if (revision !== current + 1) return
    this.#working.set(key, Object.freeze({ value, revision }))
    this.#queueFlush()
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    queueMicrotask(() => {
      if (this.#flushQueued) this.#flush()
    })
  }

  #flush(): void {
    this.#flushQueued = false
    this.publish(Object.freeze({ entries: new Map(this.#working), status: 'ready', error: undefined }))
  }
}
