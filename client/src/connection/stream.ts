// One stream request, from its open to its end: the answer checked, the
// events read, a silent stream given up. Its phase follows its events:
//
//   awaiting-snapshot ──any event──▶ snapshot ──ready──▶ live ──reset──▶ resetting ──ready──▶ live
//
// (a stream that asked for no snapshot starts `live`). In the snapshot phases
// the server sends current values (and, resumed, its replay) in an order of
// its own: their ids are not positions to resume from; `ready`'s id is.

import type { AtomKVError } from '../errors.js'
import { httpError } from '../http.js'
import { HEADER } from '../protocol/index.js'
import type { Scheduler, Timer } from '../scheduler.js'
import { readEventStream, type SseEvent } from '../sse.js'

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

export type OpenStream = (request: StreamRequest, signal: AbortSignal) => Promise<Response>

export type StreamPhase = 'awaiting-snapshot' | 'snapshot' | 'resetting' | 'live'

/** What a stream tells its connection. Nothing after `stop()`. */
export interface StreamHandlers {
  /** The server answered with an event stream. */
  opened(stream: Stream, headers: Headers): void
  event(stream: Stream, event: SseEvent): void
  /** The server's `retry:` field, in ms. */
  retryHint(ms: number): void
  /**
   * A `400`, `401`, `403` or `404`: the server refuses this request as such,
   * and would again. `path`: the one key or prefix a `403` names, when it
   * does; the others may go on without it.
   */
  refused(stream: Stream, error: AtomKVError, path?: string): void
  /** Any other end: no answer, an answer that is no event stream, the server ending it, an event too large, silence. */
  ended(stream: Stream, error: unknown): void
}

export interface StreamSettings {
  open: OpenStream
  scheduler: Scheduler
  /** A stream silent (not even the server's keep-alive comment) for this long is given up; 0 never. */
  idleTimeoutMs: number
  maxEventSize: number
  handlers: StreamHandlers
}

/** No byte arrived for `idleTimeoutMs`: the connection is presumed dead. */
export class StreamIdleError extends Error {
  override name = 'StreamIdleError'
}

export class Stream {
  readonly request: StreamRequest
  readonly paths: ReadonlySet<string>
  readonly init: ReadonlySet<string>
  readonly resumed: boolean
  #phase: StreamPhase
  /** The server instance that answered, once it did. */
  #instance: string | null = null
  /** When the answer came; null before. */
  #openedAt: number | null = null
  #lastActivity = 0
  #idleTimer: Timer | undefined
  /** Reading is over (it ended, or was stopped). */
  #finished = false
  /** The connection let go of it: it reports nothing more. */
  #stopped = false
  readonly #controller = new AbortController()
  readonly #settings: StreamSettings

  constructor(request: StreamRequest, settings: StreamSettings) {
    this.request = request
    this.paths = new Set([...request.sub, ...request.init])
    this.init = new Set(request.init)
    this.resumed = request.lastEventId !== null
    this.#phase = request.init.length > 0 ? 'awaiting-snapshot' : 'live'
    this.#settings = settings
  }

  get phase(): StreamPhase {
    return this.#phase
  }

  get instance(): string | null {
    return this.#instance
  }

  get openedAt(): number | null {
    return this.#openedAt
  }

  /** Answered and still read. */
  get reading(): boolean {
    return this.#openedAt !== null && !this.#finished
  }

  get stopped(): boolean {
    return this.#stopped
  }

  start(): void {
    if (!this.#finished) void this.#run()
  }

  /** Stops reading, silently. Returns false when it already was stopped. */
  stop(): boolean {
    if (this.#stopped) return false
    this.#stopped = true
    this.#finish()
    return true
  }

  async #run(): Promise<void> {
    const { open, handlers, scheduler, maxEventSize } = this.#settings
    const signal = this.#controller.signal
    try {
      const response = await open(this.request, signal)
      if (this.#finished) return void response.body?.cancel().catch(() => {})
      if (REFUSED.has(response.status)) {
        const path = response.status === 403 ? refusedPath(response.headers) : undefined
        const error = await httpError(undefined, response)
        if (this.#finish()) handlers.refused(this, error, path)
        return
      }
      const body = eventStreamBody(response)
      this.#instance = response.headers.get(HEADER.instance)
      this.#openedAt = this.#lastActivity = scheduler.now()
      handlers.opened(this, response.headers)
      this.#watchForSilence()
      await readEventStream(body, (event) => this.#onEvent(event), {
        maxEventSize,
        signal,
        onChunk: () => (this.#lastActivity = scheduler.now()),
        onRetry: (ms) => {
          if (!this.#finished) handlers.retryHint(ms)
        },
      })
      throw new Error('the server ended the stream')
    } catch (error) {
      if (this.#finish()) handlers.ended(this, error)
    }
  }

  #onEvent(event: SseEvent): void {
    if (this.#finished) return
    if (event.type === 'reset') this.#phase = 'resetting'
    else if (event.type === 'ready') this.#phase = 'live'
    else if (this.#phase === 'awaiting-snapshot') this.#phase = 'snapshot'
    this.#settings.handlers.event(this, event)
  }

  #watchForSilence(): void {
    const { idleTimeoutMs: timeout, scheduler } = this.#settings
    if (timeout <= 0) return
    const check = () => {
      const silent = scheduler.now() - this.#lastActivity
      if (silent < timeout) this.#idleTimer = scheduler.setTimeout(check, timeout - silent)
      else if (this.#finish()) this.#settings.handlers.ended(this, new StreamIdleError(`no byte for ${silent} ms`))
    }
    this.#idleTimer = scheduler.setTimeout(check, timeout)
  }

  /** Ends reading; true the first time, when the end is still to be reported (not stopped). */
  #finish(): boolean {
    if (this.#finished) return false
    this.#finished = true
    this.#settings.scheduler.clearTimeout(this.#idleTimer)
    this.#controller.abort()
    return !this.#stopped
  }
}

/** Answers that say the request itself is refused: retrying it would get the same. */
const REFUSED = new Set([400, 401, 403, 404])

/** The path a refusal names (`X-AtomKV-Refused`, percent-encoded), if any. */
function refusedPath(headers: Headers): string | undefined {
  const header = headers.get(HEADER.refused)
  if (!header) return undefined
  try {
    return decodeURIComponent(header)
  } catch {
    return undefined
  }
}

/**
 * The body of an answer that is an event stream; throws for any other (a
 * proxy's error page, a captive portal's login form: retried, never parsed).
 */
function eventStreamBody(response: Response): ReadableStream<Uint8Array> {
  const problem = answerProblem(response)
  if (problem === undefined) return response.body!
  response.body?.cancel().catch(() => {})
  throw new Error(`the stream ${problem}`)
}

function answerProblem(response: Response): string | undefined {
  if (!response.ok) return `answered ${response.status}`
  const type = response.headers.get('content-type')?.split(';')[0]!.trim().toLowerCase()
  if (type !== 'text/event-stream') return `answered ${type ? `"${type}"` : 'no content-type'}, not text/event-stream`
  if (!response.body) return 'answered without a body'
  return undefined
}
