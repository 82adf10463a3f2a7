// Replacing a stream that has no position, without losing a write.
//
// A stream whose `ready` came with an empty id has no position yet (the
// server had no events). Reopening it cannot resume, and the new stream's
// snapshot may miss writes made while it opened. So a planned reopen hands
// over: the old stream stays open and keeps feeding the live listeners until
// they have reached the revisions of the new stream's snapshot; the new
// stream's live events wait until then.
//
//   snapshot ──the new stream's ready──▶ draining ──▶ ended
//
// `snapshot`: the new stream's snapshot is read; its values for keys that
// live listeners follow are kept. `draining`: the old stream brings those
// listeners up to the kept revisions while the new stream's events are held.
// It ends when they are all reached, when the old stream ends, or after
// HANDOVER_MS; keys the old stream did not bring by then get the snapshot's
// value (the revisions between are lost), then the held events are applied.

import type { Scheduler, Timer } from '../scheduler.js'
import type { SseEvent } from '../sse.js'
import type { Membership } from './membership.js'
import { parseFrame, write, type Frame } from './routing.js'
import type { Stream } from './stream.js'

/** Longest a handover waits for the old stream, and most events it holds back meanwhile. */
const HANDOVER_MS = 2_000
const MAX_HELD = 10_000

type Phase =
  | { readonly name: 'snapshot'; readonly values: Map<string, Frame> }
  | {
      readonly name: 'draining'
      readonly values: Map<string, Frame>
      /** Keys some live listener has not reached. */
      readonly pending: Set<string>
      /** The new stream's live events, in order. */
      held: Frame[]
      readonly timer: Timer
    }

export class Handover {
  /** The old stream, still read; null once it ended. */
  #source: Stream | null
  #phase: Phase = { name: 'snapshot', values: new Map() }
  readonly #members: Membership
  readonly #scheduler: Scheduler
  /** Asks the connection to end it (`finish()`), which then applies the held events. */
  readonly #done: () => void

  constructor(source: Stream, members: Membership, scheduler: Scheduler, done: () => void) {
    this.#source = source
    this.#members = members
    this.#scheduler = scheduler
    this.#done = done
  }

  get source(): Stream | null {
    return this.#source
  }

  get draining(): boolean {
    return this.#phase.name === 'draining'
  }

  /** Another new stream, with a full snapshot: it decides what the old stream still owes. */
  restart(): void {
    if (this.#phase.name === 'draining') this.#scheduler.clearTimeout(this.#phase.timer)
    this.#phase = { name: 'snapshot', values: new Map() }
  }

  /** A snapshot value of the new stream, for a key a live listener follows. */
  record(frame: Frame): void {
    if (this.#phase.name === 'snapshot') this.#phase.values.set(frame.key, frame)
  }

  /** The new stream's `ready`: wait for the old stream to reach its snapshot. */
  drain(): void {
    if (this.#phase.name !== 'snapshot') return
    const { values } = this.#phase
    const timer = this.#scheduler.setTimeout(this.#done, HANDOVER_MS)
    this.#phase = { name: 'draining', values, pending: new Set(values.keys()), held: [], timer }
    this.#check([...values.keys()])
  }

  /** Holds a live event of the new stream; false when it holds all it may (then end it, and apply this one). */
  hold(frame: Frame): boolean {
    if (this.#phase.name !== 'draining' || this.#phase.held.length >= MAX_HELD) return false
    this.#phase.held.push(frame)
    return true
  }

  /** The new stream was abandoned: what it held was never applied, and the next stream resumes before it. */
  dropHeld(): void {
    if (this.#phase.name === 'draining') this.#phase.held = []
  }

  /** An event of the old stream: a write for the live listeners, as before. */
  sourceEvent(event: SseEvent): void {
    const frame = parseFrame(event)
    if (!frame) return
    write(this.#members, frame)
    this.#check([frame.key])
  }

  sourceEnded(): void {
    this.#source = null
    if (this.draining) this.#done()
  }

  /**
   * Ends it: stops reading the old stream, gives the keys it did not bring
   * the snapshot's value, and returns the held events for the connection to apply.
   */
  finish(): Frame[] {
    this.stop()
    const phase = this.#phase
    if (phase.name !== 'draining') return []
    for (const key of phase.pending) write(this.#members, phase.values.get(key)!)
    return phase.held
  }

  /** Forgets it: stops reading the old stream. */
  stop(): void {
    if (this.#phase.name === 'draining') this.#scheduler.clearTimeout(this.#phase.timer)
    this.#source?.stop()
    this.#source = null
  }

  /** Drops from `pending` the keys every live listener has reached; asks to end when none is left. */
  #check(keys: string[]): void {
    if (this.#phase.name !== 'draining') return
    const { values, pending } = this.#phase
    for (const key of keys) {
      const frame = values.get(key)
      if (frame && !this.#lagging(frame)) pending.delete(key)
    }
    if (pending.size === 0 || !this.#source) this.#done()
  }

  /** Whether a live listener of the frame's key has not reached its revision. */
  #lagging({ key, revision }: Frame): boolean {
    for (const listener of this.#members.covering(key)) {
      if (listener.live && (listener.revision(key) ?? -1) < revision) return true
    }
    return false
  }
}
