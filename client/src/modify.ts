// The compare-and-swap retry loop: read, compute, write with revision + 1, and
// on a conflict read again. `fn` only ever sees values the server confirmed.

import { backoffDelay, sleep } from './backoff.js'
import { AtomKVConflictError, AtomKVError } from './errors.js'
import { checkPath, getKey, updateKey, type Transport } from './http.js'

export interface ModifyOptions {
  /** Conflicts to accept before giving up with `AtomKVConflictError`. Default 25. */
  maxAttempts?: number
  /** Stops the loop: rejects with code `aborted`. A write already sent is not taken back. */
  signal?: AbortSignal
}

/**
 * Computes the next value from the current one (`null` and revision `-1` for a
 * missing key). Returning `undefined` leaves the key as it is.
 */
export type Modifier<T> = (current: T | null, revision: number) => T | undefined | PromiseLike<T | undefined>

/** Conflicts are short-lived: small steps, a low cap. */
const CONFLICT_BACKOFF = { minDelayMs: 8, maxDelayMs: 250 }

export async function modifyKey<T>(
  transport: Transport,
  key: string,
  fn: Modifier<T>,
  options: ModifyOptions = {},
  isClosed: () => boolean = () => false,
): Promise<[value: T, revision: number] | undefined> {
  const { maxAttempts = 25, signal } = options
  checkPath(key)
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a positive integer, not ${maxAttempts}`)
  }
  const check = () => {
    if (signal?.aborted) throw new AtomKVError(`${key}: aborted`, { code: 'aborted', key, cause: signal.reason })
    if (isClosed()) throw new AtomKVError('the client is closed', { code: 'closed', key })
  }
  for (let attempt = 1; ; attempt++) {
    check()
    const [current, revision] = await getKey<T>(transport, key, signal)
    check()
    const next = await fn(current, revision)
    if (next === undefined) return undefined
    check()
    // The write itself is not abortable: once sent, it may be stored, and the
    // caller must learn whether it was.
    if (await updateKey(transport, key, next, revision + 1)) return [next, revision + 1]
    if (attempt >= maxAttempts) throw new AtomKVConflictError<T>(key, current, revision, attempt)
    try {
      await sleep(backoffDelay(attempt - 1, CONFLICT_BACKOFF), signal)
    } catch {
      check()
    }
  }
}
