// Fan-out. Each committed change (a write or a removal) is encoded once, recorded in the resume
// backlog and queued to every stream that covers its key, found by walking the
// key's ancestors in an index of subscriptions: never a scan of all streams.

import { Backlog, type BacklogEvent, type BacklogOptions } from './backlog.js'
import type { Logger } from './options.js'
import { coveringPaths, type ResetReason } from '@atomkv/client/protocol'
import { type Frame, frame, writeFrame } from './sse.js'
import type { Change, Store, Write } from './store.js'
import { Subscriber, type SubscriberHost } from './subscriber.js'

/** Why a stream was not opened. */
export type OpenRefusal = 'closed' | 'store-unavailable' | 'too-many-streams' | 'too-many-from-client' | 'too-many-subscriptions'

export interface HubOptions {
  heartbeatMs: number
  /** Most keys and prefixes over all streams: every subscription costs memory in the index. */
  maxTotalSubscriptions: number
  /** Most open streams from one client address; `0` for no limit. */
  maxStreamsPerClient: number
  /** How long a stream replaced by a newer one of its session may take to send what it holds. */
  retiringGraceMs: number
  maxQueueBytes: number
  maxStreams: number
  backlog: BacklogOptions
  logger: Logger
}

export interface OpenStream {
  /** Keys and prefixes the stream carries, without duplicates. */
  subscriptions: readonly string[]
  /** Those whose current values are sent first, then `ready`. */
  initial: readonly string[]
  /** The `Last-Event-ID` to resume after. */
  lastEventId?: string | undefined
  /**
   * The {@link Hub.instance} that sent `lastEventId`, when the client knows it.
   * Ids are `<key>:<revision>`, so after a restart an old id can name a new
   * write; a different instance turns such a resume into a reset.
   */
  instance?: string | undefined
  /** The client's name for its connection: a stream opened with the name of an open one retires that one. */
  session?: string | undefined
  /** Who opens it, for logs. */
  client?: string | undefined
}

/** Raised into a stream that is cut off. */
export class StreamCutError extends Error {
  override name = 'StreamCutError'
}

export class Hub implements SubscriberHost {
  /**
   * Names this hub's backlog: sent with every stream as `X-AtomKV-Instance`.
   * A durable store's history keeps it across restarts, a shared store's is
   * the same on every instance; otherwise each start has its own.
   */
  #instance: string
  readonly backlog: Backlog
  readonly #store: Store
  readonly #options: HubOptions
  /** Subscription path (key or prefix) → the streams subscribed to it. */
  readonly #index = new Map<string, Set<Subscriber>>()
  readonly #subscribers = new Set<Subscriber>()
  #subscriptions = 0
  /** Events handed to streams, ever. */
  eventsSent = 0
  /** Streams cut off, ever: too slow, or replaced and not read. */
  cutOff = 0
  #nextId = 1
  #heartbeat: ReturnType<typeof setInterval> | undefined
  readonly #unsubscribe: () => void
  #closed = false
  /** The newest stream of each session; no larger than the set of streams. */
  readonly #sessions = new Map<string, Subscriber>()
  /** Open streams by client address; no larger than the set of streams. */
  readonly #perClient = new Map<string, number>()
  /** Streams replaced by a newer one of their session, with the deadline by which they must have sent what they hold. */
  readonly #retiring = new Map<Subscriber, ReturnType<typeof setTimeout>>()

  constructor(store: Store, options: HubOptions) {
    this.#store = store
    this.#options = options
    this.backlog = new Backlog(options.backlog)
    const history = store.history
    this.#instance = history?.instance ?? crypto.randomUUID()
    if (history) {
      this.backlog.assumeRemoved(history.removedTop)
      for (const { key, revision, json, removedRevision } of history.changes) {
        this.backlog.append(key, revision, json, removedRevision)
      }
    }
    const unsubscribe = store.subscribe((change) => this.publish(change))
    const unwatch = store.onInterruption?.(({ missed, instance }) => {
      // What the backlog holds no longer leads up to what comes next: every resume from it resets.
      if (missed) this.backlog.clear()
      this.#instance = instance
      this.closeStreams()
    })
    this.#unsubscribe = () => {
      unsubscribe()
      unwatch?.()
    }
  }

  get instance(): string {
    return this.#instance
  }

  /** After close(): no stream opens any more. */
  get closed(): boolean {
    return this.#closed
  }

  get streams(): number {
    return this.#subscribers.size
  }

  get subscriptions(): number {
    return this.#subscriptions
  }

  /** Entries of the subscription index and the per-address and per-session maps, none of which outgrows the open streams (for tests). */
  get tracked(): { paths: number; addresses: number; sessions: number } {
    return { paths: this.#index.size, addresses: this.#perClient.size, sessions: this.#sessions.size }
  }

  /** Bytes waiting in all streams' queues. */
  get queuedBytes(): number {
    let bytes = 0
    for (const subscriber of this.#subscribers) bytes += subscriber.queuedBytes
    return bytes
  }

  publish({ key, revision, json, removedRevision }: Change): void {
    const event = this.backlog.append(key, revision, json, removedRevision)
    if (this.#subscribers.size === 0) return
    for (const path of coveringPaths(key)) this.#deliver(path, event)
  }

  /**
   * Opens a stream, or says why not: the hub is closed, `maxStreams` are open, or the
   * stream's subscriptions would take the total past `maxTotalSubscriptions`.
   * Frames flow once the caller attaches a sink to it.
   *
   * Registering the stream and fixing its resume point happen in one
   * synchronous step, so no write falls between what the stream replays and
   * what it receives live. Live events that arrive meanwhile wait in the
   * stream's queue and follow the opening frames:
   *
   * 1. a `reset` when `lastEventId` is given but not in the backlog (or
   *    another event may have had its id: see backlog.ts);
   * 2. on resume, the backlog's covered events after `lastEventId`;
   * 3. the current value of each key the snapshot covers (all subscriptions
   *    after a reset, else `initial`), oldest write first;
   * 4. after a snapshot, `ready`, whose id is the newest event at opening
   *    (empty when there is none).
   *
   * Every id sent is a point a reconnect can resume from without a gap: the
   * replay comes before the snapshot, snapshot values go oldest first and
   * never carry a write made after opening (those come live), and `ready`
   * follows everything up to its id.
   */
  open({ subscriptions, initial, lastEventId, instance, session, client }: OpenStream): Subscriber | OpenRefusal {
    if (this.#closed) return 'closed'
    if (this.#store.available?.() === false) return 'store-unavailable'
    if (this.#subscribers.size >= this.#options.maxStreams) return 'too-many-streams'
    const perClient = this.#options.maxStreamsPerClient
    if (perClient > 0 && client !== undefined && (this.#perClient.get(client) ?? 0) >= perClient) {
      return 'too-many-from-client'
    }
    if (this.#subscriptions + subscriptions.length > this.#options.maxTotalSubscriptions) return 'too-many-subscriptions'
    const id = this.#nextId++
    const subscriber = new Subscriber(
      id,
      subscriptions,
      client,
      this.#options.maxQueueBytes,
      this,
    )
    this.#attach(subscriber)
    const previous = session === undefined ? undefined : this.#sessions.get(session)
    // A session is taken over only from the address that holds it: knowing a name is not enough to end a stream.
    if (session !== undefined && (!previous || previous.client === client)) {
      // Registered first: every write goes to the old stream or the new one.
      subscriber.session = session
      this.#sessions.set(session, subscriber)
      previous?.retire()
    }

    let resumeAfter: number | undefined
    let reset: ResetReason | undefined
    if (lastEventId && instance && instance !== this.instance) {
      reset = 'server-restarted'
    } else if (lastEventId) {
      const point = this.backlog.find(lastEventId)
      if ('seq' in point) resumeAfter = point.seq
      else reset = point.reset
    }
    const replay = resumeAfter === undefined ? undefined : { after: resumeAfter, to: this.backlog.lastSeq }
    const readyId = this.backlog.newest?.id ?? null
    const snapshot = reset ? subscriptions : initial

    if (reset) subscriber.unshift(frame({ event: 'reset', data: JSON.stringify({ reason: reset }) }))
    if (snapshot.length === 0) {
      subscriber.begin(this.#opening(subscriber, replay))
      return subscriber
    }
    // A store may read the snapshot after later writes: those are queued, and sorted out in #opening.
    this.#store.list(snapshot).then(
      (entries) => subscriber.begin(this.#opening(subscriber, replay, { entries, readyId })),
      (error: unknown) => {
        this.#options.logger.error(`atomkv: could not read the initial state for ${subscriber.label}`, error)
        subscriber.abort(new StreamCutError('could not read the initial state'))
      },
    )
    return subscriber
  }

  /** Ends every open stream; returns how many there were. */
  closeStreams(): number {
    const subscribers = [...this.#subscribers]
    for (const subscriber of subscribers) subscriber.end()
    return subscribers.length
  }

  /** Closes every stream and stops listening to the store. */
  close(): void {
    this.#closed = true
    this.closeStreams()
    this.#unsubscribe()
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }

  retiring(subscriber: Subscriber): void {
    this.#unindex(subscriber)
    const grace = this.#options.retiringGraceMs
    const deadline = setTimeout(
      () => this.#cutOff(subscriber, `: replaced, and did not send what it held within ${grace} ms`, 'replaced, and not read'),
      grace,
    )
    deadline.unref?.()
    this.#retiring.set(subscriber, deadline)
  }

  detach(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return
    clearTimeout(this.#retiring.get(subscriber))
    this.#retiring.delete(subscriber)
    this.#unindex(subscriber)
    const { client } = subscriber
    if (client !== undefined) {
      const count = this.#perClient.get(client)! - 1
      if (count === 0) this.#perClient.delete(client)
      else this.#perClient.set(client, count)
    }
    if (this.#subscribers.size === 0) {
      clearInterval(this.#heartbeat)
      this.#heartbeat = undefined
    }
  }

  failed(subscriber: Subscriber, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error)
    this.#options.logger.warn(`atomkv: cut off ${subscriber.label}: ${reason}`)
    subscriber.abort(error instanceof Error ? error : new StreamCutError(reason))
  }

  /** No more events for this stream. */
  #unindex(subscriber: Subscriber): void {
    const { session } = subscriber
    if (session !== undefined && this.#sessions.get(session) === subscriber) this.#sessions.delete(session)
    for (const path of subscriber.subscriptions) {
      const set = this.#index.get(path)
      if (set?.delete(subscriber)) this.#subscriptions--
      if (set?.size === 0) this.#index.delete(path)
    }
  }

  #attach(subscriber: Subscriber): void {
    this.#subscribers.add(subscriber)
    const { client } = subscriber
    if (client !== undefined) this.#perClient.set(client, (this.#perClient.get(client) ?? 0) + 1)
    for (const path of subscriber.subscriptions) {
      let set = this.#index.get(path)
      if (!set) this.#index.set(path, (set = new Set()))
      set.add(subscriber)
      this.#subscriptions++
    }
    if (!this.#heartbeat && this.#options.heartbeatMs > 0) {
      // One timer for all streams.
      this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatMs)
      this.#heartbeat.unref?.()
    }
  }

  #deliver(path: string, event: BacklogEvent): void {
    const subscribers = this.#index.get(path)
    if (!subscribers) return
    for (const subscriber of subscribers) {
      if (subscriber.lastSeq === event.seq) continue
      subscriber.lastSeq = event.seq
      if (subscriber.push(event)) this.eventsSent++
      else this.#cut(subscriber, `at ${event.id}`)
    }
  }

  #beat(): void {
    for (const subscriber of [...this.#subscribers]) {
      if (!subscriber.heartbeat()) this.#cut(subscriber, 'at a heartbeat')
    }
  }

  #cut(subscriber: Subscriber, where: string): void {
    const limit = this.#options.maxQueueBytes
    const why = `it is not reading, and its unsent events passed ${limit} bytes (it can resume from its last event id)`
    this.#cutOff(subscriber, ` ${where}: ${why}`, `unsent events passed ${limit} bytes`)
  }

  /** Logs, counts and drops a stream the server gives up on. */
  #cutOff(subscriber: Subscriber, logged: string, reason: string): void {
    this.#options.logger.warn(`atomkv: cut off ${subscriber.label}${logged}`)
    this.cutOff++
    subscriber.abort(new StreamCutError(reason))
  }

  /** The opening frames (see {@link open}), produced as the stream reads them. */
  *#opening(
    subscriber: Subscriber,
    replay: { after: number; to: number } | undefined,
    snapshot?: { entries: readonly Write[]; readyId: string | null },
  ): Generator<Frame> {
    const replayed = new Map<string, number>()
    if (replay) {
      for (let seq = replay.after + 1; seq <= replay.to; seq++) {
        const event = this.backlog.at(seq)
        if (!event) throw new StreamCutError('its resume point left the backlog before the replay was sent')
        if (!subscriber.covers(event.key)) continue
        replayed.set(event.key, event.revision)
        yield event
      }
    }
    if (!snapshot) return
    // A key written since opening has all those writes queued: its snapshot value, newer than
    // the stream's resume point, is left to them.
    const queued = subscriber.firstQueuedRevisions()
    for (const { key, revision, json } of snapshot.entries) {
      if (revision <= (replayed.get(key) ?? -1) || revision >= (queued.get(key) ?? Infinity)) continue
      yield writeFrame(key, revision, json)
    }
    yield frame({ id: snapshot.readyId, event: 'ready', data: '{}' })
  }
}
