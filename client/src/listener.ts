// One subscriber of a stream, and the rules that make what it receives
// at-most-once and in order per key, whatever the stream repeats.
//
// A listener remembers the last revision it saw of every existing key it
// covers (its snapshot gives all of them; one that joins a path already live
// copies what a sibling knows). Around a snapshot the server repeats
// revisions; comparing with that memory is what drops the repeats. A removal
// (revision -1) makes it forget the key, so the key's next life, which starts
// again at revision 0, is news; a removal of a key it does not know is not.
//
// Its phases, and what moves it between them (each written once, below):
//
//   waiting      ─startSnapshot→ snapshot      ─adopt→ live (knowing what a sibling knows)
//   snapshot     ─ready→ live                  ─streamLost→ waiting    ─startSnapshot→ snapshot (over again)
//   live         ─reset, catchUp→ catching-up
//   catching-up  ─ready, streamLost→ live      ─reset→ catching-up (told again)
//   any          ─close, end, fail→ gone

import type { AtomKVError } from './errors.js'
import { REMOVED } from './protocol/index.js'
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

type Phase =
  /** Not on a stream yet: the next open brings it, with a snapshot. */
  | { readonly name: 'waiting' }
  /** Its snapshot is arriving: a baseline, or with `initial` its first values. `touched`: the keys it held so far. */
  | { readonly name: 'snapshot'; readonly touched: Set<string> }
  /** Takes every write newer than what it saw. */
  | { readonly name: 'live' }
  /**
   * Live, and rebuilding from a fresh snapshot: after a stream that could not
   * resume, or a `reset` (then it was told so, and owes its watcher every value
   * and a `ready`).
   */
  | { readonly name: 'catching-up'; readonly touched: Set<string>; readonly reset: boolean }
  | { readonly name: 'gone' }

export type ListenerState = Phase['name']

export class Listener {
  readonly spec: ListenerSpec
  #phase: Phase = { name: 'waiting' }
  /** Last revision seen per existing key it covers. Bounded by the keys under its path. */
  #seen = new Map<string, number>()
  /** A `reset` or `ready` to send before anything else. */
  #owed: 'reset' | 'ready' | null = null
  /** It delivered a value: a snapshot started over must then begin with a `reset`. */
  #delivered = false

  constructor(spec: ListenerSpec) {
    this.spec = spec
  }

  get path(): string {
    return this.spec.path
  }

  get state(): ListenerState {
    return this.#phase.name
  }

  /** Follows the stream's writes (maybe while rebuilding from a snapshot). */
  get live(): boolean {
    return this.#phase.name === 'live' || this.#phase.name === 'catching-up'
  }

  /** Live and not rebuilding: what it knows of its keys is current, a newcomer may copy it. */
  get steady(): boolean {
    return this.#phase.name === 'live'
  }

  /** The last revision it saw of `key`. */
  revision(key: string): number | undefined {
    return this.#seen.get(key)
  }

  // --- transitions ------------------------------------------------------------

  /** Its snapshot starts, or starts over (a stream cut it short, a new tab leads). */
  startSnapshot(): void {
    if (this.#phase.name !== 'waiting' && this.#phase.name !== 'snapshot') return
    // A watcher that got part of an earlier snapshot must start from scratch.
    if (this.#delivered && this.spec.fullResync) this.#owed = 'reset'
    this.#phase = { name: 'snapshot', touched: new Set() }
  }

  /** Joins a path already live: follows it from here, knowing what `sibling` knows. */
  adopt(sibling: Listener): void {
    if (this.#phase.name !== 'waiting') return
    this.#phase = { name: 'live' }
    this.#seen = new Map(sibling.#seen)
    // Its `ready` goes first, unless a `reset` or a `ready` (or a value, which pays it) comes before.
    this.#owed = 'ready'
    queueMicrotask(() => {
      if (this.#owed === 'ready' && this.live) {
        this.#owed = null
        this.#emit({ type: 'ready' })
      }
    })
  }

  /** The stream could not resume: compare a fresh snapshot with what it saw, without telling the watcher. */
  catchUp(): void {
    if (this.#phase.name === 'live') this.#phase = { name: 'catching-up', touched: new Set(), reset: false }
  }

  /** What happened meanwhile is unknown (a server `reset`, a new leading tab): say so, then rebuild. */
  reset(): void {
    if (!this.live) return
    this.#owed = null
    this.#phase = { name: 'catching-up', touched: new Set(), reset: true }
    this.#emit({ type: 'reset' })
  }

  /** The snapshot is complete: the keys it did not mention no longer exist. */
  ready(): void {
    const phase = this.#phase
    if (phase.name !== 'snapshot' && phase.name !== 'catching-up') return
    // A watcher rebuilding from everything learns of the keys gone by their
    // absence (see `WatchEvent`); one that gets only changes is told of each.
    const tell = phase.name === 'catching-up' ? !(this.spec.fullResync && phase.reset) : this.spec.initial && !this.spec.fullResync
    for (const key of [...this.#seen.keys()]) if (!phase.touched.has(key)) this.#forget(key, tell)
    this.#phase = { name: 'live' }
    if (phase.name === 'snapshot' || phase.reset) this.#send({ type: 'ready' })
  }

  /** Its stream stopped: an unfinished snapshot is asked for again by the next one, a catch-up is dropped. */
  streamLost(): void {
    if (this.#phase.name === 'snapshot') this.#phase = { name: 'waiting' }
    else if (this.#phase.name === 'catching-up') this.#phase = { name: 'live' }
  }

  /** Unsubscribed; returns false when it already was. */
  close(): boolean {
    if (this.#phase.name === 'gone') return false
    this.#phase = { name: 'gone' }
    return true
  }

  /** The client closed. */
  end(): void {
    if (this.close()) this.spec.end?.()
  }

  /** The subscription is over: `error` is the last event it gets (anything owed is dropped). */
  fail(error: AtomKVError): void {
    this.close()
    this.#owed = null
    this.#emit({ type: 'error', error })
  }

  // --- deliveries -------------------------------------------------------------

  /** A value of the stream it is on, taken as its phase says: a write, or a snapshot's value. */
  receive(key: string, value: unknown, revision: number): void {
    const phase = this.#phase
    if (phase.name === 'live') return this.write(key, value, revision)
    if (phase.name !== 'snapshot' && phase.name !== 'catching-up') return
    if (revision === REMOVED) {
      // Replayed before the snapshot's values: news if its value was.
      phase.touched.delete(key)
      return this.#forget(key, phase.name === 'catching-up' || this.spec.initial)
    }
    phase.touched.add(key)
    const last = this.#seen.get(key)
    if (phase.name === 'snapshot' && !this.spec.initial) {
      this.#seen.set(key, revision) // a baseline, not news
      return
    }
    // A watcher rebuilds from every value; an iterator needs only those that changed.
    const everything = this.spec.fullResync && (phase.name === 'snapshot' || phase.reset)
    if (everything) return this.#deliver(key, value, revision)
    if (last === revision) return
    // Lower than what it saw: the key was removed and written again meanwhile.
    if (last !== undefined && revision < last) this.#forget(key, true)
    this.#deliver(key, value, revision)
  }

  /** A write: delivered only if newer than what it saw (revisions repeat around a snapshot). A removal: see `#forget`. */
  write(key: string, value: unknown, revision: number): void {
    if (!this.live) return
    if (revision === REMOVED) return this.#forget(key, true)
    const last = this.#seen.get(key)
    if (last !== undefined && revision <= last) return
    this.#deliver(key, value, revision)
  }

  /** The key is gone: forgotten, and the watcher told (if `tell`) when it knew the key. */
  #forget(key: string, tell: boolean): void {
    if (this.#seen.delete(key) && tell) this.#send({ type: 'delete', key })
  }

  #deliver(key: string, value: unknown, revision: number): void {
    this.#seen.set(key, revision)
    this.#delivered = true
    this.#send({ type: 'value', key, value, revision })
  }

  /** Sends an event after any `reset`/`ready` owed. */
  #send(event: WatchEvent): void {
    const owed = this.#owed
    this.#owed = null
    if (owed && !(owed === 'ready' && event.type === 'ready')) this.#emit({ type: owed })
    this.#emit(event)
  }

  /** A throwing listener harms no one else: its error is reported on its own. */
  #emit(event: WatchEvent): void {
    try {
      this.spec.emit(event)
    } catch (error) {
      setTimeout(() => {
        throw error
      })
    }
  }
}
