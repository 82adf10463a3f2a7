// The resume backlog: the most recent events in write order, bounded by count
// and bytes. Events leave it oldest first, so when an id is still here, so is
// everything written after it. There is no index by id: every write would pay
// for it, while only a resuming stream looks an id up (a scan from the newest
// event back, at most `maxEvents` steps).
//
// Ids are `<key>:<revision>` (the original's), and a key removed and written
// again starts over at revision 0, so one id can name two events. A resume
// must then never guess: the backlog remembers, for each key removed, the
// highest revision it had reached and when it was first removed, and an id
// that another generation of its key may also have used gets a reset
// (`ambiguous-id`) instead of a replay from the wrong place.

import { formatEventId, parseEventId, REMOVED, type ResetReason } from '@atomkv/client/protocol'
import { Fifo } from './fifo.js'
import { Frame, frameText } from './sse.js'

/**
 * One committed write as an event. Its frame is encoded only when a stream
 * sends it (live or in a replay), then shared by every stream.
 */
export class BacklogEvent extends Frame {
  constructor(
    /** Position in write order; consecutive for consecutive writes. */
    readonly seq: number,
    readonly key: string,
    readonly revision: number,
    readonly json: string,
  ) {
    super()
  }

  /** `<key>:<revision>` */
  get id(): string {
    return formatEventId(this.key, this.revision)
  }

  /** What the event counts against the backlog's bound: the characters of its frame, near enough, without encoding it. */
  get size(): number {
    return this.key.length + this.json.length + 24
  }

  protected text(): string {
    return frameText({ id: this.id, data: this.json })
  }
}

export interface BacklogOptions {
  /** Most events kept. Default 10 000; `0` disables resuming (every resume is a reset). */
  maxEvents?: number
  /** Most bytes kept, counted as the characters of the events' frames. Default 16 MiB. */
  maxBytes?: number
  /**
   * Most removed keys remembered to tell ambiguous ids apart (about 100 bytes
   * each). Past it the oldest are folded into one summary: a resume from any
   * key's id at or below the highest revision folded then gets a reset, which
   * is safe, only less often a replay. Default 100 000.
   */
  maxRemovedKeys?: number
}

export const DEFAULT_BACKLOG_EVENTS = 10_000
export const DEFAULT_BACKLOG_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_REMOVED_KEYS = 100_000

/** What the backlog remembers of a removed key. */
interface Removals {
  /** The seq of its first removal. */
  readonly first: number
  /** The highest revision any of its removed generations reached. */
  readonly top: number
}

/** Where a resume starts: after the event at `seq`, or over, with a `reset` saying why. */
export type ResumePoint = { readonly seq: number } | { readonly reset: ResetReason }

export class Backlog {
  readonly maxEvents: number
  readonly maxBytes: number
  readonly maxRemovedKeys: number
  readonly #events = new Fifo<BacklogEvent>()
  #bytes = 0
  #nextSeq = 1
  /** Removed keys, least recently removed first (a Map keeps insertion order). */
  readonly #removed = new Map<string, Removals>()
  /** The highest revision of the removals forgotten past `maxRemovedKeys`; -1 while none was. */
  #foldedTop = REMOVED

  constructor({
    maxEvents = DEFAULT_BACKLOG_EVENTS,
    maxBytes = DEFAULT_BACKLOG_BYTES,
    maxRemovedKeys = DEFAULT_MAX_REMOVED_KEYS,
  }: BacklogOptions = {}) {
    if (!(maxEvents >= 0)) throw new RangeError(`backlog.maxEvents must be 0 or more, got ${maxEvents}`)
    if (!(maxBytes >= 0)) throw new RangeError(`backlog.maxBytes must be 0 or more, got ${maxBytes}`)
    if (!(maxRemovedKeys >= 0)) throw new RangeError(`backlog.maxRemovedKeys must be 0 or more, got ${maxRemovedKeys}`)
    this.maxEvents = maxEvents
    this.maxBytes = maxBytes
    this.maxRemovedKeys = maxRemovedKeys
  }

  /**
   * Every key counts as removed before the first event, having reached `top`:
   * for a backlog refilled after a restart, which cannot know what earlier
   * lives its keys had, only the highest revision any of them reached.
   */
  assumeRemoved(top: number): void {
    this.#foldedTop = Math.max(this.#foldedTop, top)
  }

  /** Removed keys remembered (at most `maxRemovedKeys`). */
  get removedKeys(): number {
    return this.#removed.size
  }

  get events(): number {
    return this.#events.size
  }

  get bytes(): number {
    return this.#bytes
  }

  /** The seq of the latest append, kept or not (`0` before any). */
  get lastSeq(): number {
    return this.#nextSeq - 1
  }

  /** The newest event kept, if any. */
  get newest(): BacklogEvent | undefined {
    return this.#events.last()
  }

  /**
   * Records an event and returns it with its seq. One too big to keep empties
   * the backlog instead: keeping older events without it would leave a gap.
   * A removal (revision -1) gives the revision the key had, `removedRevision`.
   */
  append(key: string, revision: number, json: string, removedRevision = REMOVED): BacklogEvent {
    const event = new BacklogEvent(this.#nextSeq++, key, revision, json)
    if (revision === REMOVED) this.#noteRemoval(key, event.seq, removedRevision)
    const size = event.size
    const fits = this.maxEvents > 0 && size <= this.maxBytes
    while (this.events > 0 && (!fits || this.events >= this.maxEvents || this.#bytes + size > this.maxBytes)) {
      this.#evictOldest()
    }
    if (fits) {
      this.#events.push(event)
      this.#bytes += size
    }
    return event
  }

  /**
   * Where a stream resuming after the event named `id` starts: after that
   * event, if it is still kept and no other event can have had its id.
   */
  find(id: string): ResumePoint {
    const parsed = parseEventId(id)
    if (!parsed) return { reset: 'malformed-id' }
    for (let i = this.#events.size - 1; i >= 0; i--) {
      const event = this.#events.at(i)!
      if (event.revision !== parsed.revision || event.key !== parsed.key) continue
      return this.#ambiguous(event) ? { reset: 'ambiguous-id' } : { seq: event.seq }
    }
    return { reset: 'not-in-backlog' }
  }

  /**
   * Whether an older event of another generation of the key may have had this
   * one's id: the key was removed before it, having reached its revision
   * (a removal's own id, -1, every removal has).
   */
  #ambiguous(event: BacklogEvent): boolean {
    const removals = this.#removed.get(event.key)
    if (removals) return removals.first < event.seq && removals.top >= event.revision
    return this.#foldedTop >= event.revision
  }

  #noteRemoval(key: string, seq: number, revision: number): void {
    // A key not remembered may have been forgotten: it then counts as removed
    // at the start, having reached the highest revision of any forgotten one.
    const known = this.#removed.get(key) ?? (this.#foldedTop === REMOVED ? undefined : { first: 0, top: this.#foldedTop })
    this.#removed.delete(key) // to the end: the least recently removed go first
    this.#removed.set(key, known ? { first: known.first, top: Math.max(known.top, revision) } : { first: seq, top: revision })
    if (this.#removed.size <= this.maxRemovedKeys) return
    const [oldestKey, oldest] = this.#removed.entries().next().value!
    this.#removed.delete(oldestKey)
    this.#foldedTop = Math.max(this.#foldedTop, oldest.top)
  }

  /**
   * Drops every event (their seqs stay used): after changes were missed,
   * none of them leads up to the next one, so every resume resets.
   */
  clear(): void {
    while (this.events > 0) this.#evictOldest()
  }

  /** The event at `seq`, if it is still kept. */
  at(seq: number): BacklogEvent | undefined {
    const first = this.#events.at(0)
    const event = first && this.#events.at(seq - first.seq)
    return event?.seq === seq ? event : undefined
  }

  #evictOldest(): void {
    const event = this.#events.shift()
    if (!event) return
    this.#bytes -= event.size
  }
}
