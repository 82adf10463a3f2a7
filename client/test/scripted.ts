// A connection with no network and no real timers, for stepping its state
// machine: a clock the test moves by hand, and a server whose answers the
// test writes (real `Response`s over `ReadableStream`s it pushes SSE into).

import { Connection, type ConnectionOptions, type StreamRequest } from '../src/connection/connection.js'
import type { ListenerSpec } from '../src/listener.js'
import type { Scheduler, Timer } from '../src/scheduler.js'
import type { ConnectionStatus, WatchEvent } from '../src/types.js'

/** Lets every pending promise callback and stream read run (a macrotask drains the microtasks). */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Pending {
  at: number
  seq: number
  callback: () => void
}

/** A clock that moves only when told; timers fire in order of due time, then of creation. */
export class ManualClock implements Scheduler {
  #now = 0
  #seq = 0
  readonly #timers = new Map<Timer, Pending>()

  setTimeout(callback: () => void, ms: number): Timer {
    const timer = { id: ++this.#seq } as unknown as Timer
    this.#timers.set(timer, { at: this.#now + Math.max(0, ms), seq: this.#seq, callback })
    return timer
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer !== undefined) this.#timers.delete(timer)
  }

  now(): number {
    return this.#now
  }

  /** Delays from now of the pending timers, soonest first. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b)
  }

  /** Moves time on by `ms`, firing what falls due (and settling after each). */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms
    for (;;) {
      await settle()
      const next = this.#next(until)
      if (!next) break
      const [timer, pending] = next
      this.#timers.delete(timer)
      this.#now = pending.at
      pending.callback()
    }
    this.#now = until
    await settle()
  }

  #next(until: number): [Timer, Pending] | undefined {
    let best: [Timer, Pending] | undefined
    for (const entry of this.#timers) {
      const [, p] = entry
      if (p.at > until) continue
      if (!best || p.at < best[1].at || (p.at === best[1].at && p.seq < best[1].seq)) best = entry
    }
    return best
  }
}

/** One stream request the connection made, answered by the test. */
export class ScriptedStream {
  #cancelled = false
  #body: ReadableStreamDefaultController<Uint8Array> | undefined
  readonly #resolve: (response: Response) => void
  readonly #reject: (error: unknown) => void

  constructor(
    readonly request: StreamRequest,
    readonly signal: AbortSignal,
    resolve: (response: Response) => void,
    reject: (error: unknown) => void,
  ) {
    this.#resolve = resolve
    this.#reject = reject
    // As fetch does: an abort before the answer rejects.
    signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true })
  }

  /** The client cancelled its answer's body (or aborted before one came). */
  get cancelled(): boolean {
    return this.#cancelled || this.signal.aborted
  }

  /** Answers with an event stream, open for `send()`. */
  open(headers: Record<string, string> = {}): this {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.#body = controller),
      cancel: () => void (this.#cancelled = true),
    })
    this.#resolve(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } }))
    return this
  }

  /** Answers with anything else. */
  answer(status: number, body: string, headers: Record<string, string> = {}): void {
    this.#resolve(new Response(body, { status, headers }))
  }

  /** The request fails without an answer. */
  fail(): void {
    this.#reject(new TypeError('fetch failed'))
  }

  /** Raw SSE text. */
  send(text: string): this {
    if (!this.#cancelled) this.#body!.enqueue(new TextEncoder().encode(text))
    return this
  }

  /** A write: `id:<key>:<revision>`, its value as data. */
  write(key: string, revision: number, value: unknown = revision): this {
    return this.send(`id:${key}:${revision}\ndata:${JSON.stringify(value)}\n\n`)
  }

  /** `event:ready`, with an id (`''`: the server had no event) or none. */
  ready(id?: string): this {
    return this.send(`event:ready\n${id === undefined ? '' : `id:${id}\n`}data:{}\n\n`)
  }

  reset(reason = 'not-in-backlog'): this {
    return this.send(`event:reset\ndata:${JSON.stringify({ reason })}\n\n`)
  }

  /** The server ends the stream. */
  end(): void {
    if (!this.#cancelled) this.#body!.close()
  }
}

/** A connection on a manual clock and a scripted server. */
export function scriptedConnection(options: Partial<ConnectionOptions> = {}) {
  const clock = new ManualClock()
  const streams: ScriptedStream[] = []
  const statuses: ConnectionStatus[] = []
  const connection = new Connection({
    open: (request, signal) =>
      new Promise<Response>((resolve, reject) => streams.push(new ScriptedStream(request, signal, resolve, reject))),
    retry: { minDelayMs: 100, maxDelayMs: 1000 },
    idleTimeoutMs: 5_000,
    maxEventSize: 1 << 20,
    scheduler: clock,
    onStatus: (status) => statuses.push(status),
    ...options,
  })
  return {
    clock,
    connection,
    statuses,
    streams,
    /** The latest request. */
    get stream(): ScriptedStream {
      return streams.at(-1)!
    },
  }
}

/**
 * A listener that records what it gets: `watch()`'s kind by default, an
 * iterator's with `fullResync: false`; `then` runs after each event.
 */
export function recorded(
  path: string,
  options: { initial?: boolean; fullResync?: boolean; then?: (event: WatchEvent) => void } = {},
) {
  const events: WatchEvent[] = []
  let ended = false
  const spec: ListenerSpec = {
    path,
    initial: options.initial ?? false,
    fullResync: options.fullResync ?? true,
    emit: (event) => {
      events.push(event)
      options.then?.(event)
    },
    end: () => void (ended = true),
  }
  return {
    spec,
    events,
    /** The connection closed with it. */
    get ended() {
      return ended
    },
    /** `/key:revision`, `delete:/key`, `reset`, `ready`, `error:<code>`. */
    types: () =>
      events.map((e) =>
        e.type === 'value'
          ? `${e.key}:${e.revision}`
          : e.type === 'error'
            ? `error:${e.error.code}`
            : e.type === 'delete'
              ? `delete:${e.key}`
              : e.type,
      ),
  }
}
