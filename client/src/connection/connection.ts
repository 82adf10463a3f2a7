// One event stream carrying many subscriptions, kept open and gap-free.
//
// The stream is reopened whenever the set of subscribed paths changes (once
// per tick, however many changes) and after every failure. Each reopen sends
// the last position seen as `Last-Event-ID`, so the server replays what was
// missed; paths that gained a listener since the last open are sent as
// `init=`, so their listeners get a snapshot: delivered when they asked for
// `initial`, used as a revision baseline otherwise (a plain subscriber gets
// only writes after it subscribed, even though the replay reaches further
// back).
//
// The parts: the states (state.ts) and the status they show (status.ts),
// who listens to what (membership.ts), one request's life (stream.ts), where
// writes go (routing.ts), a reopen that cannot resume (handover.ts), and the
// delay before a retry (retry.ts).

import type { BackoffOptions } from '../backoff.js'
import { AtomKVError } from '../errors.js'
import type { Listener, ListenerSpec } from '../listener.js'
import { HEADER } from '../protocol/index.js'
import { randomId } from '../random-id.js'
import { realScheduler, type Scheduler, type Timer } from '../scheduler.js'
import { SseTooLargeError, type SseEvent } from '../sse.js'
import { statusOf } from '../status.js'
import type { ConnectionStatus } from '../types.js'
import { Handover } from './handover.js'
import { Membership, type StreamLimits } from './membership.js'
import { RetryPolicy } from './retry.js'
import { parseFrame, route, type Frame } from './routing.js'
import { causeOf, streamOf, type ConnectionState } from './state.js'
import { Stream, type OpenStream, type StreamHandlers, type StreamSettings } from './stream.js'

export type { StreamLimits } from './membership.js'
export type { OpenStream, StreamRequest } from './stream.js'

export interface ConnectionOptions {
  open: OpenStream
  retry: BackoffOptions
  /** A stream silent for this long is presumed dead and replaced; 0 never. */
  idleTimeoutMs: number
  maxEventSize: number
  /** Bounds of one stream's request; none for a stream of one path. */
  limits?: StreamLimits
  /** Timers and clock; the global ones by default. */
  scheduler?: Scheduler
  onStatus(status: ConnectionStatus): void
}

/** A place to resume from: an event id, and the server instance that sent it (ids alone collide across a restart). */
interface Position {
  id: string
  instance: string | null
}

export class Connection {
  readonly #onStatus: (status: ConnectionStatus) => void
  readonly #scheduler: Scheduler
  readonly #members: Membership
  readonly #retry: RetryPolicy
  readonly #streamSettings: StreamSettings
  readonly #session = randomId()
  #state: ConnectionState = { name: 'idle' }
  #position: Position | null = null
  /** The position id (null: none) where a stream last sent an event too large to read. */
  #tooLargeAt: { id: string | null } | null = null
  #handover: Handover | null = null
  #syncTimer: Timer | undefined

  constructor(options: ConnectionOptions) {
    this.#onStatus = options.onStatus
    this.#scheduler = options.scheduler ?? realScheduler
    this.#members = new Membership(options.limits)
    this.#retry = new RetryPolicy(options.retry)
    const handlers: StreamHandlers = {
      opened: (stream, headers) => this.#opened(stream, headers),
      event: (stream, event) => this.#onEvent(stream, event),
      retryHint: (ms) => this.#retry.hint(ms),
      refused: (stream, error, path) => this.#refused(stream, error, path),
      ended: (stream, error) => this.#ended(stream, error),
    }
    const { open, idleTimeoutMs, maxEventSize } = options
    this.#streamSettings = { open, scheduler: this.#scheduler, idleTimeoutMs, maxEventSize, handlers }
  }

  get status(): ConnectionStatus {
    return statusOf(this.#state)
  }

  /** The state's name, for tests and debugging. */
  get state(): ConnectionState['name'] {
    return this.#state.name
  }

  /** Number of distinct keys and prefixes subscribed. */
  get size(): number {
    return this.#members.size
  }

  /** Adds a listener; returns its removal. Throws when the stream cannot take its path. */
  add(spec: ListenerSpec): () => void {
    if (this.#state.name === 'closed') throw new AtomKVError('the client is closed', { code: 'closed', key: spec.path })
    const listener = this.#members.add(spec)
    this.#join(listener)
    return () => {
      if (listener.close()) this.#detach(listener)
    }
  }

  /** Ends the stream for good; listeners get `end()`. */
  close(): void {
    if (this.#state.name === 'closed') return
    this.#scheduler.clearTimeout(this.#syncTimer)
    this.#dropHandover()
    const listeners = this.#members.clear()
    this.#enter({ name: 'closed' })
    for (const listener of listeners) listener.end()
  }

  /** Reconnects now if waiting to retry (the page became visible, the network came back). */
  wake(): void {
    if (this.#state.name === 'backoff') this.#retryNow()
  }

  // --- states (see state.ts) ------------------------------------------------

  /**
   * The one place the state changes. A stream the new state does not read is
   * abandoned (unless a handover reads it on), a backoff's timer is cleared,
   * and the status is reported when it changed. `closed` is final.
   */
  #enter(next: ConnectionState): void {
    const previous = this.#state
    if (previous.name === 'closed') return
    if (previous.name === 'backoff') this.#scheduler.clearTimeout(previous.timer)
    const left = streamOf(previous)
    if (left && left !== streamOf(next) && left !== this.#handover?.source) this.#abandon(left)
    this.#state = next
    const status = statusOf(next)
    if (status !== statusOf(previous)) this.#onStatus(status)
  }

  /** Opens a stream for the paths listened to now, resuming from the last position. */
  #open(): void {
    if (this.#state.name === 'closed') return // a listener's callback closed the client
    const previous = streamOf(this.#state)
    if (previous && this.#canHandOver(previous)) {
      this.#handover = new Handover(previous, this.#members, this.#scheduler, () => this.#endHandover())
    } else if (previous) {
      this.#abandon(previous) // now: the listeners it leaves are waiting again when the request is built
    }
    const position = this.#position
    if (!position) this.#handover?.restart()
    const { sub, init } = this.#members.prepare(position !== null, this.#handover !== null)
    const request = { sub, init, lastEventId: position?.id ?? null, instance: position?.instance ?? null, session: this.#session }
    const stream = new Stream(request, this.#streamSettings)
    this.#enter({ name: 'connecting', stream, cause: causeOf(this.#state) })
    stream.start()
  }

  /** A stream with no position, healthy, that live listeners rely on: replaced by a handover. */
  #canHandOver(stream: Stream): boolean {
    return (
      !this.#handover &&
      this.#position === null &&
      stream.reading &&
      stream.phase === 'live' &&
      this.#members.some((listener) => listener.live)
    )
  }

  #opened(stream: Stream, headers: Headers): void {
    if (stream !== streamOf(this.#state)) return
    this.#members.learnLimit(headers.get(HEADER.maxSubscriptions))
    this.#enter({ name: 'open', stream })
  }

  #ended(stream: Stream, error: unknown): void {
    if (stream === this.#handover?.source) return this.#handover.sourceEnded()
    if (stream !== streamOf(this.#state)) return
    if (error instanceof SseTooLargeError) {
      // Resuming would meet the same event again: the second time, give up on these subscriptions.
      const at = this.#position?.id ?? null
      if (this.#tooLargeAt?.id === at) {
        this.#tooLargeAt = null
        const message = `the stream sent ${error.message} (maxEventSize); raise it above the server's value limit`
        return this.#refused(stream, new AtomKVError(message, { code: 'too-large' }))
      }
      this.#tooLargeAt = { id: at }
    }
    // A handover waiting on this stream ends as if its time were up: the old stream is no longer needed.
    if (this.#handover?.draining) this.#endHandover()
    if (stream !== streamOf(this.#state)) return // a listener's callback closed the client
    // Whatever else broke, the cure is the same: reconnect and resume.
    const openedAt = stream.openedAt
    const delay = this.#retry.next(openedAt === null ? null : this.#scheduler.now() - openedAt)
    this.#enter({ name: 'backoff', timer: this.#scheduler.setTimeout(() => this.#retryNow(), delay) })
  }

  /**
   * A refusal: every listener of the refused request gets the error and is
   * removed (only those of `path`, when the refusal names one of its paths);
   * the others go on.
   */
  #refused(stream: Stream, error: AtomKVError, path?: string): void {
    if (stream !== streamOf(this.#state)) return
    this.#abandon(stream)
    this.#dropHandover()
    const only = path !== undefined && stream.paths.has(path) ? path : undefined
    for (const listener of [...this.#members.all()]) {
      if (this.#state.name === 'closed') return // a listener's callback closed the client
      if (!stream.paths.has(listener.path)) continue // added since: its own request will tell
      if (only !== undefined && listener.path !== only) continue
      this.#detach(listener)
      listener.fail(error)
    }
    this.#retry.reset()
    if (this.#members.size === 0) this.#rest()
    else this.#open()
  }

  #retryNow(): void {
    if (this.#state.name !== 'backoff') return
    if (this.#members.size === 0) this.#rest()
    else this.#open()
  }

  /** Nothing is subscribed: no stream until something is. */
  #rest(): void {
    this.#dropHandover()
    this.#retry.reset()
    this.#enter({ name: 'idle' })
  }

  /** Stops reading a stream; its unfinished snapshots are asked for again by the next one. */
  #abandon(stream: Stream): void {
    if (!stream.stop()) return
    this.#handover?.dropHeld()
    for (const listener of this.#members.all()) listener.streamLost()
  }

  // --- membership -----------------------------------------------------------

  /** Puts a new listener on the current stream when that loses nothing, else asks for a reopen. */
  #join(listener: Listener): void {
    const stream = streamOf(this.#state)
    if (stream && !stream.stopped && stream.paths.has(listener.path) && stream.phase !== 'resetting') {
      const sibling = listener.spec.initial ? undefined : this.#members.sibling(listener)
      if (sibling) return listener.adopt(sibling)
      // The snapshot has not started arriving: this listener gets all of it.
      if (stream.init.has(listener.path) && stream.phase === 'awaiting-snapshot') return listener.startSnapshot()
    }
    this.#schedule()
  }

  #detach(listener: Listener): void {
    if (this.#members.delete(listener)) this.#schedule()
  }

  /** Reconciles the stream with the subscriptions, once per tick however many changed. */
  #schedule(): void {
    if (this.#syncTimer !== undefined || this.#state.name === 'closed') return
    this.#syncTimer = this.#scheduler.setTimeout(() => {
      this.#syncTimer = undefined
      this.#sync()
    }, 0)
  }

  #sync(): void {
    const state = this.#state
    if (state.name === 'closed') return
    if (this.#members.size === 0) return this.#rest()
    if (state.name === 'backoff') return // the retry opens with whatever is wanted then
    if (this.#handover?.draining) return // one handover at a time: it syncs again when done
    const stream = streamOf(state)
    if (stream && this.#members.matches(stream.paths) && !this.#members.some((l) => l.state === 'waiting')) return
    this.#open()
  }

  // --- events of the current stream -------------------------------------------

  #onEvent(stream: Stream, event: SseEvent): void {
    if (stream === this.#handover?.source) return this.#handover.sourceEvent(event)
    if (stream !== streamOf(this.#state)) return
    if (event.type === 'reset') return this.#onReset()
    if (event.type === 'ready') return this.#onReady(stream, event)
    const frame = parseFrame(event)
    if (!frame) return
    if (this.#handover?.draining && stream.phase === 'live') {
      if (this.#handover.hold(frame)) return
      this.#endHandover()
    }
    const followed = this.#apply(stream, frame)
    if (followed && stream.phase !== 'live') this.#handover?.record(frame)
  }

  /** Delivers a frame; tells whether a live listener follows its key. */
  #apply(stream: Stream, frame: Frame): boolean {
    if (stream.phase === 'live') this.#position = { id: frame.id, instance: stream.instance }
    this.#retry.reset()
    return route(this.#members, stream, frame)
  }

  /** The server could not resume: the live listeners rebuild from the snapshot that follows. */
  #onReset(): void {
    for (const listener of [...this.#members.all()]) listener.reset()
  }

  #onReady(stream: Stream, event: SseEvent): void {
    // No id: the server resumed from our position, which still stands. An empty id: no position.
    if (event.id !== undefined) this.#position = event.id === '' ? null : { id: event.id, instance: stream.instance }
    this.#retry.reset()
    for (const listener of [...this.#members.all()]) listener.ready()
    this.#handover?.drain()
  }

  // --- handover (see handover.ts) -------------------------------------------

  /** Ends the handover; the events it held are applied, as long as their stream is still the current one. */
  #endHandover(): void {
    const handover = this.#handover
    if (!handover) return
    this.#handover = null
    const held = handover.finish()
    const stream = streamOf(this.#state)
    for (const frame of held) {
      if (!stream || streamOf(this.#state) !== stream) break
      this.#apply(stream, frame)
    }
    this.#schedule() // changes that waited for the handover
  }

  #dropHandover(): void {
    this.#handover?.stop()
    this.#handover = null
  }
}
