// One open stream. Its bytes are pulled, never pushed: the HTTP layer reads the
// next chunk only once the socket has taken the last one, so the only buffer
// that grows for a slow reader is the queue below, and the queue is capped.

import { concatBytes } from './bytes.js'
import { prefixesOf } from './paths.js'
import { encodeComment } from './sse.js'

/** A frame waiting in a subscriber's queue; `key` and `revision` are set for write events. */
export interface QueuedFrame {
  readonly frame: Uint8Array
  readonly key?: string
  readonly revision?: number
}

/** What a subscriber needs from the hub that owns it. */
export interface SubscriberHost {
  /** The subscriber is done (closed, cut or cancelled): forget it. Called once. */
  detach(subscriber: Subscriber): void
  /** Producing the opening frames failed (the resume point left the backlog); cut it off. */
  failed(subscriber: Subscriber, error: unknown): void
}

/** Frames are joined into chunks of about this size: fewer, larger socket writes during bursts. */
const CHUNK_BYTES = 64 * 1024
const OPEN_COMMENT = encodeComment('ok')
const HEARTBEAT = encodeComment()

export class Subscriber {
  readonly id: number
  readonly subscriptions: readonly string[]
  /** Who this is, for logs. */
  readonly label: string
  readonly stream: ReadableStream<Uint8Array>
  /** Seq of the last event queued: an event reaches a stream once, however many of its subscriptions cover it. */
  lastSeq = 0
  /**
   * Called when the stream is cut off or its reader cancels, to drop the
   * connection at once: a socket stuck waiting to drain, or half-closed by the
   * client, would otherwise linger until a timeout.
   */
  onDrop: (() => void) | undefined
  /** The client's name for the connection this stream belongs to (`?session=`): a newer stream of it retires this one. */
  session: string | undefined

  readonly #paths: ReadonlySet<string>
  readonly #host: SubscriberHost
  readonly #maxQueueBytes: number
  /** Frames that go before everything else: the opening comment, a reset. */
  readonly #front: Uint8Array[] = [OPEN_COMMENT]
  /** Replay, snapshot and ready frames, produced as the stream is read; `undefined` until known, `null` once sent. */
  #opening: Iterator<Uint8Array> | null | undefined
  readonly #queue = new Fifo<QueuedFrame>()
  #queuedBytes = 0
  #controller!: ReadableStreamDefaultController<Uint8Array>
  #waiting = false
  #active = false
  #done = false
  /** Takes no more events; ends once what it holds is sent. */
  #retiring = false

  constructor(
    id: number,
    subscriptions: readonly string[],
    label: string,
    maxQueueBytes: number,
    host: SubscriberHost,
  ) {
    this.id = id
    this.subscriptions = subscriptions
    this.label = label
    this.#paths = new Set(subscriptions)
    this.#maxQueueBytes = maxQueueBytes
    this.#host = host
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller
        },
        pull: () => this.#pull(),
        cancel: () => {
          if (this.#finish()) this.onDrop?.()
        },
      },
      // No buffer inside the stream: frames wait in our queue, where they are counted.
      { highWaterMark: 0 },
    )
  }

  get queuedBytes(): number {
    return this.#queuedBytes
  }

  get closed(): boolean {
    return this.#done
  }

  /** Whether one of this stream's subscriptions covers `key`. */
  covers(key: string): boolean {
    return this.#paths.has(key) || prefixesOf(key).some((prefix) => this.#paths.has(prefix))
  }

  /** Adds a frame that goes out before the opening frames and live events. */
  unshift(frame: Uint8Array): void {
    this.#front.push(frame)
  }

  /** Starts the stream proper: the `opening` frames, then the queued live events. */
  begin(opening: Iterable<Uint8Array>): void {
    if (this.#done) return
    this.#opening = opening[Symbol.iterator]()
    this.#wake()
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
   * Queues a live frame. Returns `false`, queuing nothing, when the frame
   * would take the queue past its bound: the hub then cuts this stream off.
   * A lone frame larger than the bound still goes to an empty queue.
   */
  push(item: QueuedFrame): boolean {
    if (this.#done) return true
    const size = item.frame.byteLength
    if (this.#queuedBytes > 0 && this.#queuedBytes + size > this.#maxQueueBytes) return false
    this.#queue.push(item)
    this.#queuedBytes += size
    this.#active = true
    this.#wake()
    return true
  }

  /** A comment if nothing was queued since the last heartbeat. Returns `false` like {@link push}. */
  heartbeat(): boolean {
    const idle = !this.#active
    this.#active = false
    return idle ? this.push({ frame: HEARTBEAT }) : true
  }

  /** Ends the stream cleanly (server shutdown). */
  end(): void {
    if (this.#finish()) {
      try {
        this.#controller.close()
      } catch {
        // Already closed by the reader.
      }
    }
  }

  /**
   * Replaced by a newer stream of the same session: takes no more events,
   * sends those it holds (a client may still read them, see the client's
   * handover), then ends. Ending rather than going quiet frees the
   * connection: a browser that dropped the stream keeps reading it (Chrome
   * drains a cancelled response for up to 5 s) before it lets the socket go.
   */
  retire(): void {
    if (this.#done || this.#retiring) return
    // Its opening not sent yet: it holds nothing a reader could use.
    if (this.#opening !== null) return this.end()
    this.#retiring = true
    this.#host.detach(this)
    if (this.#waiting) this.#pull()
  }

  /** Cuts the stream off with an error, dropping the connection. */
  abort(reason: Error): void {
    if (this.#finish()) {
      this.#controller.error(reason)
      this.onDrop?.()
    }
  }

  #finish(): boolean {
    if (this.#done) return false
    this.#done = true
    this.#queue.clear()
    this.#queuedBytes = 0
    this.#opening = null
    this.#host.detach(this)
    return true
  }

  #pull(): void {
    if (this.#done) return
    const chunk = this.#take()
    this.#waiting = !chunk && !this.#done
    if (chunk) this.#controller.enqueue(chunk)
    if (this.#retiring && this.#front.length === 0 && this.#queue.empty) this.end()
  }

  #wake(): void {
    if (!this.#waiting || this.#done) return
    const chunk = this.#take()
    if (chunk) {
      this.#waiting = false
      this.#controller.enqueue(chunk)
    }
  }

  /** The next chunk to send: whole frames joined up to about {@link CHUNK_BYTES}. */
  #take(): Uint8Array | undefined {
    const frames: Uint8Array[] = []
    let size = 0
    while (size < CHUNK_BYTES) {
      const frame = this.#next()
      if (!frame) break
      frames.push(frame)
      size += frame.byteLength
    }
    if (this.#done || frames.length === 0) return undefined
    return concatBytes(frames, size)
  }

  #next(): Uint8Array | undefined {
    const front = this.#front.shift()
    if (front) return front
    // Live events wait until the opening frames are known and sent.
    if (this.#opening === undefined) return undefined
    if (this.#opening) {
      let step: IteratorResult<Uint8Array>
      try {
        step = this.#opening.next()
      } catch (error) {
        this.#host.failed(this, error)
        return undefined
      }
      if (!step.done) return step.value
      this.#opening = null
    }
    const item = this.#queue.shift()
    if (!item) return undefined
    this.#queuedBytes -= item.frame.byteLength
    return item.frame
  }
}

/** A queue with O(1) shift. */
class Fifo<T> {
  #items: Array<T | undefined> = []
  #head = 0

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }

  get empty(): boolean {
    return this.#head === this.#items.length
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!
  }
}
