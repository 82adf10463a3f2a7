// modify(): compare-and-swap with retries, coalesced per key.
//
// The modify() calls of one client on one key form a queue, with one write in
// flight at a time. The functions waiting when a write goes out are applied in
// order, each to what the one before it made, starting from the newest value
// the client knows the server holds, and the result is sent as one
// compare-and-swap. On a conflict the same functions run again, in the same
// order, on the value the server answered the conflict with. So a burst of
// updates from one page costs a few requests instead of a loop each, and the
// page never races itself.
//
//   idle ──modify()──▶ reading (no known value) ──▶ writing ──stored──▶ idle, or the next batch
//                                                      └──conflict──▶ backoff ──▶ writing (same batch, fresh value)

import { backoffDelay, sleep } from './backoff.js'
import { AtomKVConflictError, AtomKVError } from './errors.js'
import { checkPath, getKey, swapKey, type Transport } from './http.js'

export interface ModifyOptions {
  /** Conflicts to accept before giving up with `AtomKVConflictError`. Default 25. */
  maxAttempts?: number
  /** Rejects with code `aborted` while the call waits; once its write is sent, it settles with that write. */
  signal?: AbortSignal
}

/**
 * Computes the next value from the current one (`null` and revision `-1` for a
 * missing key). Returning `undefined` leaves the key as it is.
 */
export type Modifier<T> = (current: T | null, revision: number) => T | undefined | PromiseLike<T | undefined>

/** A value and its revision, as the server holds (or held) it. */
export type Known = readonly [value: unknown, revision: number]

/** Conflicts are short-lived: small steps, a low cap. */
const CONFLICT_BACKOFF = { minDelayMs: 8, maxDelayMs: 250 }

/** Calls waiting on one key, at most: past it, modify() rejects with `overflow` (a loop that never awaits). */
export const MAX_QUEUED_PER_KEY = 10_000

interface Call {
  readonly fn: Modifier<unknown>
  readonly maxAttempts: number
  readonly signal: AbortSignal | undefined
  conflicts: number
  resolve(result: [value: unknown, revision: number] | undefined): void
  reject(error: unknown): void
}

/** One key's queue: the calls waiting, and whether a batch of them is being written. */
interface KeyQueue {
  readonly key: string
  waiting: Call[]
  busy: boolean
}

export interface ModifierHost {
  readonly transport: Transport
  /** The value the client already knows for `key` (a watched key's, from its stream), if any. */
  known(key: string): Known | undefined
  readonly closed: () => boolean
}

/** The modify() queues of one client; a key's queue exists only while it has calls. */
export class Modifications {
  readonly #host: ModifierHost
  readonly #queues = new Map<string, KeyQueue>()

  constructor(host: ModifierHost) {
    this.#host = host
  }

  modify<T>(key: string, fn: Modifier<T>, options: ModifyOptions = {}): Promise<[value: T, revision: number] | undefined> {
    const { maxAttempts = 25, signal } = options
    checkPath(key)
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, not ${maxAttempts}`)
    }
    if (signal?.aborted) return Promise.reject(aborted(key, signal))
    let queue = this.#queues.get(key)
    if (!queue) this.#queues.set(key, (queue = { key, waiting: [], busy: false }))
    if (queue.waiting.length >= MAX_QUEUED_PER_KEY) {
      return Promise.reject(
        new AtomKVError(`${key}: more than ${MAX_QUEUED_PER_KEY} modify() calls waiting on this key`, { code: 'overflow', key }),
      )
    }
    const { promise, resolve, reject } = withResolvers<[value: T, revision: number] | undefined>()
    const call: Call = {
      fn: fn as Modifier<unknown>,
      maxAttempts,
      signal,
      conflicts: 0,
      resolve: resolve as Call['resolve'],
      reject,
    }
    queue.waiting.push(call)
    // A call still waiting leaves the queue when its signal fires; one in a batch being written stays.
    signal?.addEventListener(
      'abort',
      () => {
        const index = queue.waiting.indexOf(call)
        if (index === -1) return
        queue.waiting.splice(index, 1)
        call.reject(aborted(key, signal))
      },
      { once: true },
    )
    if (!queue.busy) void this.#run(queue)
    return promise
  }

  /** Writes batches of the key's waiting calls until none is left. */
  async #run(queue: KeyQueue): Promise<void> {
    queue.busy = true
    const { key } = queue
    /** The newest value the server is known to hold; none at first but what the client watches. */
    let base: Known | undefined
    let conflicts = 0
    try {
      while (queue.waiting.length > 0) {
        if (this.#host.closed()) {
          for (const call of queue.waiting.splice(0)) call.reject(new AtomKVError('the client is closed', { code: 'closed', key }))
          break
        }
        const batch = queue.waiting.splice(0)
        try {
          base ??= this.#host.known(key) ?? (await getKey(this.#host.transport, key))
        } catch (error) {
          for (const call of batch) call.reject(error)
          continue
        }
        // Each function on what the one before it made; `undefined` leaves the value as it was.
        const [start, revision] = base
        let value = start
        const made: [Call, unknown][] = []
        for (const call of batch) {
          let next: unknown
          try {
            next = await call.fn(value, revision)
          } catch (error) {
            call.reject(error)
            continue
          }
          if (next === undefined) call.resolve(undefined)
          else {
            value = next
            made.push([call, next])
          }
        }
        if (made.length === 0) continue
        // A signal that fired while the functions ran takes its call out before anything is sent;
        // the others' values were made with its own, so they run again without it.
        if (made.some(([call]) => call.signal?.aborted)) {
          for (const [call] of made) if (call.signal?.aborted) call.reject(aborted(key, call.signal))
          queue.waiting.unshift(...made.filter(([call]) => !call.signal?.aborted).map(([call]) => call))
          continue
        }
        let result
        try {
          result = await swapKey(this.#host.transport, key, value, revision + 1)
        } catch (error) {
          for (const [call] of made) call.reject(error)
          base = undefined // unknown now: read again
          continue
        }
        if (result.stored) {
          conflicts = 0
          base = [JSON.parse(JSON.stringify(value)) as unknown, revision + 1]
          // Every call of the write resolves to what it committed: the value stored, and its revision.
          for (const [call] of made) call.resolve([value, revision + 1])
          continue
        }
        // A conflict: the same calls again, first in line, on the value the server holds now.
        conflicts++
        base = result.current
        const again: Call[] = []
        for (const [call] of made) {
          if (++call.conflicts >= call.maxAttempts) {
            call.reject(new AtomKVConflictError(key, start, revision, call.conflicts)) // what it last saw
          } else if (call.signal?.aborted) {
            call.reject(aborted(key, call.signal))
          } else {
            again.push(call)
          }
        }
        queue.waiting.unshift(...again)
        if (again.length > 0) await sleep(backoffDelay(conflicts - 1, CONFLICT_BACKOFF))
      }
    } finally {
      queue.busy = false
      if (queue.waiting.length === 0) this.#queues.delete(key)
      else void this.#run(queue)
    }
  }
}

function aborted(key: string, signal: AbortSignal): AtomKVError {
  return new AtomKVError(`${key}: aborted`, { code: 'aborted', key, cause: signal.reason })
}

function withResolvers<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
