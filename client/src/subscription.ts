// subscribe(): the stream as an async iterator. Writes (and removals, as
// `[key, null, -1]`) queue until read, up to `maxQueue`; a consumer that falls
// further behind is told so (an `overflow` error after the queued writes)
// instead of silently losing writes.

import { AtomKVError } from './errors.js'
import type { ListenerSpec } from './listener.js'
import { REMOVED } from './protocol/index.js'
import type { Subscription, SubscriptionEntry, WatchEvent } from './types.js'

type Entry<T> = SubscriptionEntry<T>
type Result<T> = IteratorResult<Entry<T>, undefined>

export interface SubscriptionSetup {
  path: string
  initial: boolean
  maxQueue: number
  signal: AbortSignal | undefined
  /** Puts the listener on the connection; returns its removal. May throw (closed client, too many paths). */
  attach(spec: ListenerSpec): () => void
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

export class SubscriptionIterator<T> implements Subscription<T> {
  readonly ready: Promise<void>
  #queue: Entry<T>[] = []
  #head = 0 // index of the next entry: shifting a long array on every read would be quadratic
  #waiters: { resolve(result: Result<T>): void; reject(error: unknown): void }[] = []
  /** Set once no more writes come: `done`, or the error to throw after the queue drains. */
  #end: { error?: unknown } | null = null
  #detach: (() => void) | null = null
  #settleReady: ((error?: unknown) => void) | null
  readonly #path: string
  readonly #maxQueue: number
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = () => this.#abort()

  constructor(setup: SubscriptionSetup) {
    this.#path = setup.path
    this.#maxQueue = setup.maxQueue
    this.#signal = setup.signal
    let settle!: (error?: unknown) => void
    this.ready = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    this.ready.catch(() => {}) // awaiting it is optional
    this.#settleReady = settle
    try {
      if (setup.signal?.aborted) throw abortError(setup.path, setup.signal)
      this.#detach = setup.attach({
        path: setup.path,
        initial: setup.initial,
        fullResync: false,
        emit: (event) => this.#onEvent(event),
        end: () => this.#finish({}),
      })
      setup.signal?.addEventListener('abort', this.#onAbort, { once: true })
    } catch (error) {
      // Like an async generator, the error surfaces on the first next().
      this.#finish({ error })
    }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<Result<T>> {
    if (this.#head < this.#queue.length) return Promise.resolve({ done: false, value: this.#shift() })
    if (this.#end) {
      const { error } = this.#end
      if (error === undefined) return Promise.resolve(DONE)
      this.#end = {} // thrown once; then the iterator is simply done
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Ends the subscription at once; queued writes are dropped. */
  return(): Promise<Result<T>> {
    this.#finish({})
    this.#queue = []
    this.#head = 0
    return Promise.resolve(DONE)
  }

  throw(error?: unknown): Promise<Result<T>> {
    this.return()
    return Promise.reject(error)
  }

  #onEvent(event: WatchEvent): void {
    switch (event.type) {
      case 'value':
        return this.#push([event.key, event.value as T, event.revision])
      case 'delete':
        return this.#push([event.key, null, REMOVED])
      case 'ready':
        return this.#settle()
      case 'error':
        return this.#finish({ error: event.error })
      // 'reset' needs nothing: the connection sends only the values that changed
    }
  }

  #push(entry: Entry<T>): void {
    if (this.#end) return
    const waiter = this.#waiters.shift()
    if (waiter) return waiter.resolve({ done: false, value: entry })
    if (this.#queue.length - this.#head >= this.#maxQueue) {
      const key = this.#path
      return this.#finish({
        error: new AtomKVError(
          `${key}: the subscriber fell more than ${this.#maxQueue} writes behind; later writes were not delivered`,
          { code: 'overflow', key },
        ),
      })
    }
    this.#queue.push(entry)
  }

  #shift(): Entry<T> {
    const entry = this.#queue[this.#head]!
    this.#queue[this.#head++] = undefined as never // let the value be collected
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return entry
  }

  #abort(): void {
    const error = abortError(this.#path, this.#signal!)
    this.#queue = []
    this.#head = 0
    this.#finish({ error })
  }

  /** No more writes: unsubscribes, and settles waiting readers (with the error once the queue is drained). */
  #finish(end: { error?: unknown }): void {
    if (this.#end) return
    this.#end = end
    this.#detach?.()
    this.#detach = null
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#settle(end.error ?? new AtomKVError('the subscription ended before it was ready', { code: 'closed' }))
    // Waiters exist only while the queue is empty.
    const waiters = this.#waiters
    this.#waiters = []
    for (const [i, waiter] of waiters.entries()) {
      if (i === 0 && end.error !== undefined) {
        this.#end = {}
        waiter.reject(end.error)
      } else {
        waiter.resolve(DONE)
      }
    }
  }

  #settle(error?: unknown): void {
    this.#settleReady?.(error)
    this.#settleReady = null
  }
}

function abortError(key: string, signal: AbortSignal): AtomKVError {
  return new AtomKVError(`${key}: subscription aborted`, {
    code: 'aborted',
    key,
    cause: signal.reason,
  })
}
