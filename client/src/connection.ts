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
// A stream goes through up to two phases:
//   snapshot: from the open (when some path was sent as `init=`) or from an
//             `event:reset`, up to `event:ready`. It holds current values
//             (and, on a resumed stream, the replay, before or after them
//             depending on the server): their ids are not taken as positions;
//             `ready`'s id is (no id: the position sent still stands).
//   live:     every frame is a write, in order, and its id is a position.
// Every listener remembers the last revision it saw of each key: what makes
// delivery at-most-once and in order when the server repeats a revision
// around a snapshot. On a resumed stream a live listener takes every frame
// that is newer than what it saw; a snapshot value of a key it already knows
// is thus dropped. That a listener knows every existing key it covers is kept
// true from its start: its snapshot is its baseline, and a listener that joins
// a path already live copies the baseline of one already there.
//
// One case cannot resume: a stream that has no position yet (its `ready` came
// with an empty id: the server had no events). Reopening it would lose the
// writes in flight. So a planned reopen then hands over: the old stream stays
// open and keeps feeding the live listeners until they have reached the
// revisions of the new stream's snapshot; the new stream's live events wait
// until then (at most HANDOVER_MS, then the snapshot's values stand in for
// what the old stream did not bring).

import { AtomKVError } from './errors.js'
import { backoffDelay, type BackoffOptions } from './backoff.js'
import { httpError } from './http.js'
import { readEventStream, SseTooLargeError, type SseEvent } from './sse.js'
import { Listener, type ListenerSpec } from './listener.js'
import { coveringPaths, HEADER, parseEventId } from './protocol/index.js'
import { randomId } from './random-id.js'
import type { ConnectionStatus } from './types.js'

/** One stream request: paths to follow, paths that need a snapshot, where to resume. */
export interface StreamRequest {
  sub: string[]
  init: string[]
  lastEventId: string | null
  /** The server instance that sent `lastEventId` (its `X-AtomKV-Instance`), so a restarted server resets us. */
  instance: string | null
  /**
   * This connection's name, the same on every stream it opens: the server
   * ends the previous stream when the next opens, which frees its socket at
   * once (a browser otherwise drains a cancelled response for seconds).
   */
  session: string
}

export interface ConnectionOptions {
  open(request: StreamRequest, signal: AbortSignal): Promise<Response>
  retry: BackoffOptions
  /** A stream silent for this long is presumed dead and replaced; 0 never. */
  idleTimeoutMs: number
  maxEventSize: number
  /** Bounds of one stream's request; none for a stream of one path. */
  limits?: StreamLimits
  onStatus(status: ConnectionStatus): void
}

export interface StreamLimits {
  /** Keys and prefixes on the stream: the protocol's default until the server names its own. */
  maxPaths: number
  /** Characters of the subscription list in the stream's URL. */
  maxQueryLength: number
  /** Characters `path` adds to the subscription list. */
  queryLength(path: string): number
}

/** A stream that lived this long before failing was healthy: its failure restarts the backoff. */
const STABLE_MS = 5_000
/** Longest a handover waits for the old stream, and most events it holds back meanwhile. */
const HANDOVER_MS = 2_000
const MAX_HELD = 10_000

interface Attempt {
  readonly controller: AbortController
  readonly paths: ReadonlySet<string>
  readonly init: ReadonlySet<string>
  readonly resumed: boolean
  /** Between the open (with `init=` paths) or a `reset`, and `ready`. */
  snapshot: boolean
  resetting: boolean
  /** An event arrived: a listener can no longer join this stream's snapshot. */
  received: boolean
  /** When the response head arrived; 0 before. */
  openedAt: number
  lastActivity: number
  /** The server instance that answered (`X-AtomKV-Instance`), once the head arrived. */
  instance: string | null
}

/** A write as read from the stream. */
interface Frame {
  id: string
  key: string
  value: unknown
  revision: number
}

/** A position-less stream being replaced: see the top of this file. */
interface Handover {
  /** The old stream, still read; `null` once it ended. */
  source: Attempt | null
  /** The new stream's snapshot, for keys live listeners follow. */
  snapshot: Map<string, Frame>
  /** Keys some live listener has not caught up on; `null` until the new stream's `ready`. */
  pending: Set<string> | null
  /** The new stream's live events, waiting for the old stream. */
  held: Frame[]
  timer: ReturnType<typeof setTimeout> | undefined
}

export class Connection {
  readonly #options: ConnectionOptions
  readonly #entries = new Map<string, Set<Listener>>()
  #queryLength = 0
  #status: ConnectionStatus = 'closed'
  #position: string | null = null
  /** Which server instance `#position` belongs to: ids alone collide across a restart. */
  #positionInstance: string | null = null
  #attempt: Attempt | null = null
  #failures = 0
  #syncTimer: ReturnType<typeof setTimeout> | undefined
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  #closed = false
  /** The position at which the stream last sent an event too large to read. */
  #tooLargeAt: string | null | undefined
  #handover: Handover | null = null
  readonly #session = randomId()

  constructor(options: ConnectionOptions) {
    this.#options = options
  }

  get status(): ConnectionStatus {
    return this.#status
  }

  /** Number of distinct keys and prefixes subscribed. */
  get size(): number {
    return this.#entries.size
  }

  /** Adds a listener; returns its removal. Throws when the stream cannot take its path. */
  add(spec: ListenerSpec): () => void {
    if (this.#closed) throw new AtomKVError('the client is closed', { code: 'closed', key: spec.path })
    let listeners = this.#entries.get(spec.path)
    if (!listeners) {
      this.#admit(spec.path)
      listeners = new Set()
      this.#entries.set(spec.path, listeners)
    }
    const listener = new Listener(spec)
    listeners.add(listener)
    this.#join(listener)
    return () => this.#remove(listener)
  }

  /** Ends the stream for good; listeners get `end()`. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#syncTimer)
    this.#cancelRetry()
    if (this.#attempt) this.#abandon(this.#attempt)
    this.#dropHandover()
    const listeners = [...this.#listeners()]
    this.#entries.clear()
    this.#queryLength = 0
    for (const listener of listeners) listener.end()
    this.#setStatus('closed')
  }

  /** Reconnects now if waiting to retry (the page became visible, the network came back). */
  wake(): void {
    if (this.#retryTimer !== undefined) this.#retryNow()
  }

  // --- membership -----------------------------------------------------------

  /** Puts a new listener on the current stream when that loses nothing, else asks for a reopen. */
  #join(listener: Listener): void {
    const attempt = this.#attempt
    const path = listener.spec.path
    if (attempt && attempt.paths.has(path) && !attempt.resetting) {
      const sibling = listener.spec.initial ? undefined : this.#liveSibling(listener)
      if (sibling) return listener.adopt(sibling)
      // The snapshot has not started arriving: this listener gets all of it.
      if (attempt.init.has(path) && attempt.snapshot && !attempt.received) return listener.startSnapshot()
    }
    this.#schedule()
  }

  /** A listener of the same path that is live and not rebuilding its state. */
  #liveSibling(listener: Listener): Listener | undefined {
    for (const other of this.#entries.get(listener.spec.path) ?? []) {
      if (other !== listener && other.steady) return other
    }
    return undefined
  }

  #remove(listener: Listener): void {
    if (!listener.close()) return
    const path = listener.spec.path
    const listeners = this.#entries.get(path)
    if (!listeners?.delete(listener)) return
    if (listeners.size === 0) {
      this.#entries.delete(path)
      if (this.#options.limits) this.#queryLength -= this.#options.limits.queryLength(path)
      this.#schedule()
    }
  }

  /** The server says how many keys and prefixes it takes on one stream (a server started with another limit). */
  #learnLimit(header: string | null): void {
    const max = Number(header)
    if (this.#options.limits && header !== null && Number.isSafeInteger(max) && max > 0) {
      this.#options.limits.maxPaths = max
    }
  }

  /** Throws `too-many-subscriptions` when a new path would take the stream past its limits. */
  #admit(path: string): void {
    const limits = this.#options.limits
    if (!limits) return
    if (this.#entries.size >= limits.maxPaths) {
      throw new AtomKVError(
        `${path}: a client follows at most ${limits.maxPaths} keys and prefixes at once; subscribe to a common prefix instead`,
        { code: 'too-many-subscriptions', key: path },
      )
    }
    const length = this.#queryLength + limits.queryLength(path)
    if (length > limits.maxQueryLength) {
      throw new AtomKVError(
        `${path}: the client's subscriptions would pass ${limits.maxQueryLength} characters of stream URL; subscribe to a common prefix instead`,
        { code: 'too-many-subscriptions', key: path },
      )
    }
    this.#queryLength = length
  }

  *#listeners(): Generator<Listener> {
    for (const listeners of this.#entries.values()) yield* listeners
  }

  /** Reconciles the stream with the subscriptions, once per tick however many changed. */
  #schedule(): void {
    if (this.#syncTimer === undefined && !this.#closed) {
      this.#syncTimer = setTimeout(() => {
        this.#syncTimer = undefined
        this.#sync()
      }, 0)
    }
  }

  #sync(): void {
    if (this.#closed) return
    if (this.#entries.size === 0) {
      this.#cancelRetry()
      if (this.#attempt) this.#abandon(this.#attempt)
      this.#dropHandover()
      this.#failures = 0
      this.#setStatus('closed')
      return
    }
    if (this.#retryTimer !== undefined) return // the retry opens with whatever is wanted then
    if (this.#handover?.pending) return // one handover at a time: it syncs again when done
    const attempt = this.#attempt
    if (attempt && sameKeys(attempt.paths, this.#entries) && !this.#hasWaiting()) return
    this.#open()
  }

  #hasWaiting(): boolean {
    for (const listener of this.#listeners()) if (listener.state === 'waiting') return true
    return false
  }

  #hasLive(): boolean {
    for (const listener of this.#listeners()) if (listener.live) return true
    return false
  }

  // --- the stream -----------------------------------------------------------

  #open(): void {
    const previous = this.#attempt
    if (previous) {
      const healthy = previous.openedAt > 0 && !previous.snapshot
      if (!this.#handover && this.#position === null && healthy && this.#hasLive()) this.#startHandover(previous)
      else this.#abandon(previous)
    }
    const resumed = this.#position !== null
    const handover = this.#handover
    if (handover && !resumed) {
      // This stream sends a full snapshot: it decides what the old stream still owes.
      handover.snapshot.clear()
      handover.pending = null
      clearTimeout(handover.timer)
    }
    const init = new Set<string>()
    for (const [path, listeners] of this.#entries) {
      // Without a position there is nothing to resume from: every path starts with a snapshot.
      if (!resumed) init.add(path)
      for (const listener of listeners) {
        if (!listener.live) {
          listener.startSnapshot()
          init.add(path)
        } else if (!resumed && !handover) {
          // Live listeners catch up from the snapshot, unless the old stream still brings them every write.
          listener.catchUp()
        }
      }
    }
    const attempt: Attempt = {
      controller: new AbortController(),
      paths: new Set(this.#entries.keys()),
      init,
      resumed,
      snapshot: init.size > 0,
      resetting: false,
      received: false,
      openedAt: 0,
      lastActivity: 0,
      instance: null,
    }
    this.#attempt = attempt
    if (this.#status === 'closed') this.#setStatus('connecting')
    const request: StreamRequest = {
      sub: [...attempt.paths].filter((path) => !init.has(path)),
      init: [...init],
      lastEventId: this.#position,
      instance: this.#position === null ? null : this.#positionInstance,
      session: this.#session,
    }
    void this.#run(attempt, request)
  }

  async #run(attempt: Attempt, request: StreamRequest): Promise<void> {
    try {
      const response = await this.#options.open(request, attempt.controller.signal)
      if (this.#attempt !== attempt) {
        response.body?.cancel().catch(() => {})
        return
      }
      if (response.status === 400 || response.status === 404) {
        // The server refuses this request as such: retrying cannot help.
        return this.#refused(attempt, await httpError(undefined, response))
      }
      if (!response.ok || !response.body) {
        response.body?.cancel().catch(() => {})
        throw new Error(`the stream answered ${response.status}`)
      }
      attempt.instance = response.headers.get(HEADER.instance)
      this.#learnLimit(response.headers.get(HEADER.maxSubscriptions))
      attempt.openedAt = attempt.lastActivity = Date.now()
      this.#setStatus('open')
      this.#armIdleTimer(attempt)
      await readEventStream(response.body, (event) => this.#onEvent(attempt, event), {
        maxEventSize: this.#options.maxEventSize,
        onChunk: () => (attempt.lastActivity = Date.now()),
      })
      throw new Error('the server ended the stream')
    } catch (error) {
      if (this.#attempt !== attempt) {
        if (this.#handover?.source === attempt) this.#sourceEnded()
        return
      }
      if (error instanceof SseTooLargeError) {
        // Resuming would meet the same event again: the second time, give up on these subscriptions.
        if (this.#tooLargeAt === this.#position) {
          this.#tooLargeAt = undefined
          return this.#refused(
            attempt,
            new AtomKVError(`the stream sent ${error.message} (maxEventSize); raise it above the server's value limit`, {
              code: 'too-large',
            }),
          )
        }
        this.#tooLargeAt = this.#position
      }
      // Whatever else broke, the cure is the same: reconnect and resume.
      this.#failed(attempt)
    }
  }

  /** Stops reading an attempt; its unfinished snapshot is asked for again by the next one. */
  #abandon(attempt: Attempt): void {
    if (this.#attempt !== attempt) return
    this.#attempt = null
    attempt.controller.abort()
    clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    // Held events were never applied: the next stream resumes before them.
    if (this.#handover) this.#handover.held = []
    for (const listener of this.#listeners()) listener.streamLost()
  }

  #failed(attempt: Attempt): void {
    if (attempt.openedAt > 0 && Date.now() - attempt.openedAt >= STABLE_MS) this.#failures = 0
    this.#abandon(attempt)
    this.#setStatus('reconnecting')
    const delay = backoffDelay(this.#failures++, this.#options.retry)
    this.#retryTimer = setTimeout(() => this.#retryNow(), delay)
  }

  #retryNow(): void {
    this.#cancelRetry()
    this.#sync()
  }

  #cancelRetry(): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
  }

  /** A `400`/`404` on open: every listener of the refused request gets the error and is removed. */
  #refused(attempt: Attempt, error: AtomKVError): void {
    this.#abandon(attempt)
    this.#dropHandover()
    for (const listener of [...this.#listeners()]) {
      if (listener.state === 'waiting' && !attempt.paths.has(listener.spec.path)) continue
      this.#remove(listener)
      listener.fail(error)
    }
    this.#failures = 0
    this.#sync()
  }

  #armIdleTimer(attempt: Attempt): void {
    const timeout = this.#options.idleTimeoutMs
    if (timeout <= 0) return
    const check = () => {
      if (this.#attempt !== attempt) return
      const silent = Date.now() - attempt.lastActivity
      if (silent >= timeout) this.#failed(attempt)
      else this.#idleTimer = setTimeout(check, timeout - silent)
    }
    this.#idleTimer = setTimeout(check, timeout)
  }

  // --- events ---------------------------------------------------------------

  #onEvent(attempt: Attempt, event: SseEvent): void {
    if (attempt === this.#handover?.source) return this.#onSourceEvent(event)
    if (this.#attempt !== attempt) return
    attempt.received = true
    if (event.type === 'reset') return this.#onReset(attempt)
    if (event.type === 'ready') return this.#onReady(attempt, event)
    const frame = parseFrame(event)
    if (!frame) return
    const handover = this.#handover
    if (handover?.pending && !attempt.snapshot) {
      if (handover.held.length < MAX_HELD) return void handover.held.push(frame)
      this.#finishHandover()
    }
    const covered = this.#apply(attempt, frame)
    if (handover && handover.pending === null && attempt.snapshot && covered) handover.snapshot.set(frame.key, frame)
  }

  /** Delivers a frame of the current stream; tells whether a live listener covers its key. */
  #apply(attempt: Attempt, frame: Frame): boolean {
    if (!attempt.snapshot) this.#setPosition(attempt, frame.id)
    this.#failures = 0
    let covered = false
    for (const path of coveringPaths(frame.key)) {
      const listeners = this.#entries.get(path)
      if (!listeners) continue
      for (const listener of listeners) {
        covered ||= listener.live
        this.#deliver(attempt, listener, frame)
      }
    }
    return covered
  }

  #deliver(attempt: Attempt, listener: Listener, { key, value, revision }: Frame): void {
    // Not resumed and no catch-up: a handover, whose old stream brings the writes.
    if (listener.steady && attempt.snapshot && !attempt.resumed) return
    listener.receive(key, value, revision)
  }

  #onReset(attempt: Attempt): void {
    attempt.snapshot = true
    attempt.resetting = true
    for (const listener of this.#listeners()) listener.reset()
  }

  #setPosition(attempt: Attempt, id: string | null): void {
    this.#position = id
    this.#positionInstance = attempt.instance
  }

  #onReady(attempt: Attempt, event: SseEvent): void {
    // No id: the server resumed from our position, which still stands. An empty id: no position.
    if (event.id !== undefined) this.#setPosition(attempt, event.id === '' ? null : event.id)
    attempt.snapshot = false
    attempt.resetting = false
    this.#failures = 0
    for (const listener of [...this.#listeners()]) listener.ready()
    const handover = this.#handover
    if (handover && handover.pending === null) {
      handover.pending = new Set(handover.snapshot.keys())
      handover.timer = setTimeout(() => this.#finishHandover(), HANDOVER_MS)
      this.#checkHandover([...handover.pending])
    }
  }

  // --- handover (see the top of this file) ----------------------------------

  #startHandover(source: Attempt): void {
    this.#attempt = null // no longer the current stream, but still read
    clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    this.#handover = { source, snapshot: new Map(), pending: null, held: [], timer: undefined }
  }

  /** A write on the old stream: live listeners get it as usual. */
  #onSourceEvent(event: SseEvent): void {
    const frame = parseFrame(event)
    if (!frame) return
    for (const path of coveringPaths(frame.key)) {
      const listeners = this.#entries.get(path)
      if (!listeners) continue
      for (const listener of listeners) {
        listener.write(frame.key, frame.value, frame.revision)
      }
    }
    if (this.#handover?.pending) this.#checkHandover([frame.key])
  }

  #sourceEnded(): void {
    const handover = this.#handover!
    handover.source = null
    if (handover.pending) this.#finishHandover()
  }

  /** Drops from `pending` the keys every live listener has caught up on; ends the handover when none is left. */
  #checkHandover(keys: string[]): void {
    const handover = this.#handover!
    for (const key of keys) {
      const frame = handover.snapshot.get(key)
      if (frame && !this.#lagging(frame)) handover.pending!.delete(key)
    }
    if (handover.pending!.size === 0 || !handover.source) this.#finishHandover()
  }

  /** Whether a live listener of the frame's key has not reached its revision. */
  #lagging({ key, revision }: Frame): boolean {
    for (const path of coveringPaths(key)) {
      for (const listener of this.#entries.get(path) ?? []) {
        if (listener.live && (listener.revision(key) ?? -1) < revision) return true
      }
    }
    return false
  }

  /**
   * Ends a handover: keys the old stream did not bring in time get the
   * snapshot's value (the revisions between are lost), then the held events
   * of the new stream are applied.
   */
  #finishHandover(): void {
    const handover = this.#handover
    if (!handover) return
    this.#dropHandover()
    for (const key of handover.pending ?? []) {
      const frame = handover.snapshot.get(key)!
      for (const path of coveringPaths(key)) {
        for (const listener of this.#entries.get(path) ?? []) {
          listener.write(key, frame.value, frame.revision)
        }
      }
    }
    const attempt = this.#attempt
    for (const frame of handover.held) {
      if (this.#attempt !== attempt || !attempt) break
      this.#apply(attempt, frame)
    }
    this.#schedule() // changes that waited for the handover
  }

  /** Forgets a handover and stops reading its old stream. */
  #dropHandover(): void {
    const handover = this.#handover
    if (!handover) return
    this.#handover = null
    clearTimeout(handover.timer)
    handover.source?.controller.abort()
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#options.onStatus(status)
  }
}

/** A write event's key, revision and value; `undefined` for anything else. */
function parseFrame(event: SseEvent): Frame | undefined {
  if (event.type !== 'message' || event.id === undefined) return undefined
  const id = parseEventId(event.id)
  if (!id) return undefined
  try {
    return { id: event.id, key: id.key, revision: id.revision, value: JSON.parse(event.data) }
  } catch {
    return undefined // the server re-serializes every value: this is not an AtomKV event
  }
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false
  for (const key of a) if (!b.has(key)) return false
  return true
}
