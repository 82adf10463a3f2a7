// One open stream. Frames reach its sink only while the sink is writable (the
// socket has taken what it had, or the web stream pulls), so the only buffers
// that grow for a slow reader are this queue and the sink's own, and the two
// together are capped.

import { coveringPaths } from '@atomkv/client/protocol'
import { Fifo } from './fifo.js'
import type { Sink, SinkOwner } from './sink.js'
import { comment, type Frame } from './sse.js'

/** A frame waiting in a subscriber's queue; write events (backlog events) carry their key and revision. */
export interface QueuedFrame extends Frame {
  readonly key?: string
  readonly revision?: number
}

/** What a subscriber needs from the hub that owns it. */
export interface SubscriberHost {
  /** The subscriber takes no more events, but still holds some for its reader: it stays counted. */
  retiring(subscriber: Subscriber): void
  /** The subscriber is closed (ended, cut off, or its reader went away): forget it. Called once. */
  detach(subscriber: Subscriber): void
  /** Producing the opening frames failed (the resume point left the backlog); cut it off. */
  failed(subscriber: Subscriber, error: unknown): void
}

/**
 * - `opening`: the opening frames are not known yet (a snapshot is being read); live events queue.
 * - `replaying`: the opening frames (replay, snapshot, `ready`) go out as the reader takes them; live events queue.
 * - `live`: events go to the sink as they come, or queue while it is full.
 * - `retiring`: replaced by a newer stream of its session; takes no events, ends once its queue is sent.
 * - `closed`: ended, cut off, or its reader went away.
 */
export type SubscriberState = 'opening' | 'replaying' | 'live' | 'retiring' | 'closed'

/** Frames are joined into chunks of about this size: fewer, larger writes during bursts. */
const CHUNK_BYTES = 64 * 1024
const OPEN_COMMENT = comment('ok')
const HEARTBEAT = comment()

export class Subscriber implements SinkOwner {
  readonly id: number
  readonly subscriptions: readonly string[]
  /** Who opened it (an address), for logs. */
  readonly client: string | undefined
  /** Seq of the last event queued: an event reaches a stream once, however many of its subscriptions cover it. */
  lastSeq = 0
  /** The client's name for the connection this stream belongs to (`?session=`): a newer stream of it retires this one. */
  session: string | undefined

  #state: SubscriberState = 'opening'
  #sink!: Sink
  /** The subscriptions as a set, made when first needed (a replay): most streams never need it. */
  #paths: ReadonlySet<string> | undefined
  readonly #host: SubscriberHost
  readonly #maxQueueBytes: number
  /** Frames that go before everything else: the opening comment, a reset. */
  readonly #front: Frame[] = [OPEN_COMMENT]
  /** Replay, snapshot and ready frames, produced as the stream is read. */
  #opening: Iterator<Frame> | undefined
  readonly #queue = new Fifo<QueuedFrame>()
  #queuedBytes = 0
  /** Whether anything was queued since the last heartbeat. */
  #active = false
  /** Set while frames are being handed to the sink, so a sink that calls back at once does not re-enter. */
  #flushing = false
  /** A retiring stream's sink was told to end. */
  #ending = false

  constructor(
    id: number,
    subscriptions: readonly string[],
    client: string | undefined,
    maxQueueBytes: number,
    host: SubscriberHost,
  ) {
    this.id = id
    this.subscriptions = subscriptions
    this.client = client
    this.#maxQueueBytes = maxQueueBytes
    this.#host = host
  }

  /** Who this is, for logs: `stream #3 from 127.0.0.1 (/a /b/ /c and 2 more)`. */
  get label(): string {
    const shown = this.subscriptions.slice(0, 3).join(' ')
    const more = this.subscriptions.length > 3 ? ` and ${this.subscriptions.length - 3} more` : ''
    return `stream #${this.id}${this.client ? ` from ${this.client}` : ''} (${shown}${more})`
  }

  /** Bytes this stream holds for its reader: its queue and what its sink has not sent yet. */
  get queuedBytes(): number {
    return this.#state === 'closed' ? 0 : this.#queuedBytes + (this.#sink?.buffered ?? 0)
  }

  /** Connects the sink; frames start to flow once it is writable. */
  attach(sink: Sink): void {
    this.#sink = sink
    this.#flush()
  }

  /** Whether one of this stream's subscriptions covers `key`. */
  covers(key: string): boolean {
    const paths = (this.#paths ??= new Set(this.subscriptions))
    return coveringPaths(key).some((path) => paths.has(path))
  }

  /** Adds a frame that goes out before the opening frames and live events. */
  unshift(frame: Frame): void {
    this.#front.push(frame)
  }

  /** Starts the stream proper: the `opening` frames, then the queued live events. */
  begin(opening: Iterable<Frame>): void {
    if (this.#state !== 'opening') return
    this.#opening = opening[Symbol.iterator]()
    this.#state = 'replaying'
    this.#flush()
  }

  /** For each key with a live event queued, the revision of the first such event. */
  firstQueuedRevisions(): Map<string, number> {
    const first = new Map<string, number>()
    for (const item of this.#queue) {
      if (item.key !== undefined && !first.has(item.key)) first.set(item.key, item.revision!)
    }
    return first
  }

  /**
   * Sends or queues a live frame. Returns `false`, taking nothing, when the
   * frame would take what this stream holds past its bound: the hub then cuts
   * it off. A lone frame larger than the bound still goes to an empty stream.
   */
  push(frame: QueuedFrame): boolean {
    if (this.#state === 'closed' || this.#state === 'retiring') return true
    this.#active = true
    const sink = this.#sink
    if (this.#state === 'live' && this.#queuedBytes === 0 && sink?.writable) {
      sink.write(frame)
      return true
    }
    const size = frame.bytes.byteLength
    const held = this.#queuedBytes + (sink?.buffered ?? 0)
    if (held > 0 && held + size > this.#maxQueueBytes) return false
    this.#queue.push(frame)
    this.#queuedBytes += size
    return true
  }

  /** A comment if nothing was sent since the last heartbeat. Returns `false` like {@link push}. */
  heartbeat(): boolean {
    const idle = !this.#active
    this.#active = false
    return idle ? this.push(HEARTBEAT) : true
  }

  /** Ends the stream cleanly (server shutdown). */
  end(): void {
    if (this.#finish()) this.#sink?.end()
  }

  /**
   * Replaced by a newer stream of the same session: takes no more events,
   * sends those it holds (a client may still read them, see the client's
   * handover), then ends. Ending rather than going quiet frees the
   * connection: a browser that dropped the stream keeps reading it (Chrome
   * drains a cancelled response for up to 5 s) before it lets the socket go.
   */
  retire(): void {
    // Its opening not sent yet: it holds nothing a reader could use.
    if (this.#state === 'opening' || this.#state === 'replaying') return this.end()
    if (this.#state !== 'live') return
    this.#state = 'retiring'
    this.#host.retiring(this)
    this.#flush()
  }

  /** Cuts the stream off with an error, dropping the connection. */
  abort(reason: Error): void {
    if (this.#finish()) this.#sink?.abort(reason)
  }

  /** {@link SinkOwner}: the sink takes more. */
  writable(): void {
    this.#flush()
  }

  /** {@link SinkOwner}: the reader went away. */
  gone(): void {
    this.#finish()
  }

  #finish(): boolean {
    if (this.#state === 'closed') return false
    this.#state = 'closed'
    this.#queue.clear()
    this.#queuedBytes = 0
    this.#opening = undefined
    this.#host.detach(this)
    return true
  }

  /** Hands the sink what it will take, in chunks of whole frames. */
  #flush(): void {
    const sink = this.#sink
    if (!sink || this.#flushing) return
    this.#flushing = true
    try {
      while (sink.writable && this.#state !== 'closed') {
        const frames = this.#take()
        if (frames.length === 0) break
        sink.writeAll(frames)
      }
    } finally {
      this.#flushing = false
    }
    // What it held is handed over: the sink ends, and says when the reader has it (then it is forgotten).
    if (this.#state === 'retiring' && this.#queue.empty && !this.#ending) {
      this.#ending = true
      sink.end()
    }
  }

  /** The next frames to send, up to about {@link CHUNK_BYTES}. */
  #take(): Frame[] {
    const frames: Frame[] = []
    let size = 0
    while (size < CHUNK_BYTES) {
      const frame = this.#next()
      if (!frame) break
      frames.push(frame)
      size += frame.bytes.byteLength
    }
    return this.#state === 'closed' ? [] : frames
  }

  #next(): Frame | undefined {
    const front = this.#front.shift()
    if (front) return front
    // Live events wait until the opening frames are known and sent.
    if (this.#state === 'opening') return undefined
    if (this.#state === 'replaying') {
      let step: IteratorResult<Frame>
      try {
        step = this.#opening!.next()
      } catch (error) {
        this.#host.failed(this, error)
        return undefined
      }
      if (!step.done) return step.value
      this.#opening = undefined
      this.#state = 'live'
    }
    const frame = this.#queue.shift()
    if (frame) this.#queuedBytes -= frame.bytes.byteLength
    return frame
  }
}
