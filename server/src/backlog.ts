// The resume backlog: the most recent events in write order, bounded by count
// and bytes. Events leave it oldest first, so when an id is still here, so is
// everything written after it. There is no index by id: every write would pay
// for it, while only a resuming stream looks an id up (a scan from the newest
// event back, at most `maxEvents` steps).

import { formatEventId, parseEventId } from '@atomkv/client/protocol'
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
}

export const DEFAULT_BACKLOG_EVENTS = 10_000
export const DEFAULT_BACKLOG_BYTES = 16 * 1024 * 1024

export class Backlog {
  readonly maxEvents: number
  readonly maxBytes: number
  readonly #events = new Fifo<BacklogEvent>()
  #bytes = 0
  #nextSeq = 1

  constructor({ maxEvents = DEFAULT_BACKLOG_EVENTS, maxBytes = DEFAULT_BACKLOG_BYTES }: BacklogOptions = {}) {
    if (!(maxEvents >= 0)) throw new RangeError(`backlog.maxEvents must be 0 or more, got ${maxEvents}`)
    if (!(maxBytes >= 0)) throw new RangeError(`backlog.maxBytes must be 0 or more, got ${maxBytes}`)
    this.maxEvents = maxEvents
    this.maxBytes = maxBytes
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
   */
  append(key: string, revision: number, json: string): BacklogEvent {
    const event = new BacklogEvent(this.#nextSeq++, key, revision, json)
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
   * The seq of the event with this id, if it is still kept. A key re-created
   * after expiry reuses ids: the newest event with the id is the one meant.
   */
  find(id: string): number | undefined {
    const parsed = parseEventId(id)
    if (!parsed) return undefined
    for (let i = this.#events.size - 1; i >= 0; i--) {
      const event = this.#events.at(i)!
      if (event.revision === parsed.revision && event.key === parsed.key) return event.seq
    }
    return undefined
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
