// One subscriber of a connection, and the rules that make what it receives
// at-most-once and in order per key, whatever the stream repeats.

import type { WatchEvent } from './types.js'

/** What a subscription wants from the stream; built by `watch()` and `subscribe()`. */
export interface ListenerSpec {
  readonly path: string
  /** Deliver the current state first. Without it the snapshot is only a baseline. */
  readonly initial: boolean
  /** After a `reset`, deliver every current value (to rebuild a cache), not only the changed ones. */
  readonly fullResync: boolean
  emit(event: WatchEvent): void
  /** The client was closed. */
  end?(): void
}

export type ListenerState =
  | 'waiting' // not on the stream yet: the next open brings it, with a snapshot
  | 'snapshot' // on the stream being opened, in its snapshot phase
  | 'live'
  | 'gone'

export class Listener {
  state: ListenerState = 'waiting'
  /**
   * Last revision seen per key, for every existing key the listener covers
   * (a snapshot gives all of them). Bounded by the keys under its path.
   */
  seen = new Map<string, number>()
  /** Keys sent in the current snapshot phase; at its end, any other key in `seen` no longer exists. */
  touched: Set<string> | null = null
  /** A `reset` or `ready` to send before anything else. */
  owed: 'reset' | 'ready' | null = null
  /** Delivered at least one value: a repeated initial snapshot must then start with a `reset`. */
  delivered = false

  constructor(readonly spec: ListenerSpec) {}

  /** A write: delivered only if newer than what the listener has (revisions repeat around a snapshot). */
  write(key: string, value: unknown, revision: number): void {
    const last = this.seen.get(key)
    if (last !== undefined && revision <= last) return
    this.#value(key, value, revision)
  }

  /**
   * A current value from a snapshot: a new listener's baseline (not news) or
   * initial state, or a catch-up after a reset, where a watcher gets every
   * value and an iterator only those whose revision changed.
   */
  snapshotValue(key: string, value: unknown, revision: number, resetting: boolean): void {
    const last = this.seen.get(key)
    this.touched?.add(key)
    if (this.state === 'snapshot' && !this.spec.initial) {
      this.seen.set(key, revision)
      return
    }
    const everything = this.spec.fullResync && (this.state === 'snapshot' || resetting)
    if (everything || last !== revision) this.#value(key, value, revision)
  }

  /** The snapshot phase is over: forget the keys it did not mention. */
  endSnapshot(): void {
    if (!this.touched) return
    for (const key of this.seen.keys()) if (!this.touched.has(key)) this.seen.delete(key)
    this.touched = null
  }

  /** Sends an event, after any `reset`/`ready` owed; a throwing listener harms no one else. */
  send(event: WatchEvent): void {
    if (this.owed && event.type !== 'error') {
      const owed = this.owed
      this.owed = null
      if (!(owed === 'ready' && event.type === 'ready')) this.send({ type: owed })
    }
    try {
      this.spec.emit(event)
    } catch (error) {
      setTimeout(() => {
        throw error
      })
    }
  }

  /** Sends the `ready` owed to a listener that joined a live path, unless something already carried it. */
  payOwedReady(): void {
    if (this.owed === 'ready' && this.state === 'live') {
      this.owed = null
      this.send({ type: 'ready' })
    }
  }

  #value(key: string, value: unknown, revision: number): void {
    this.seen.set(key, revision)
    this.delivered = true
    this.send({ type: 'value', key, value, revision })
  }
}
