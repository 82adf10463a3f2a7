// How long to wait before reopening a failed stream: capped exponential
// backoff with full jitter (backoff.ts), counted over consecutive failures.
//
// A server may send `retry: <ms>` on a stream (the SSE field that sets an
// EventSource's reconnection time). Here it becomes the backoff's base, kept
// within [minDelayMs, maxDelayMs]: a busy server can slow its clients down, up
// to the cap, and cannot make them retry faster than the client's own floor.

import { backoffDelay, type BackoffOptions } from '../backoff.js'

/** A stream that lived this long before failing was healthy: its failure restarts the backoff. */
export const STABLE_MS = 5_000

export class RetryPolicy {
  readonly #options: BackoffOptions
  #failures = 0
  /** The first delay's ceiling: `minDelayMs`, or the server's `retry:` within bounds. */
  #baseMs: number

  constructor(options: BackoffOptions) {
    this.#options = options
    this.#baseMs = options.minDelayMs
  }

  /** Something worked (an event arrived, a refusal no retry could cure): the next failure starts over. */
  reset(): void {
    this.#failures = 0
  }

  /** The server's `retry:` field. */
  hint(ms: number): void {
    const { minDelayMs, maxDelayMs } = this.#options
    this.#baseMs = Math.min(maxDelayMs, Math.max(minDelayMs, ms))
  }

  /** The delay before the next attempt, after a stream that failed `livedMs` after its answer (null: none came). */
  next(livedMs: number | null): number {
    if (livedMs !== null && livedMs >= STABLE_MS) this.#failures = 0
    return backoffDelay(this.#failures++, { minDelayMs: this.#baseMs, maxDelayMs: this.#options.maxDelayMs })
  }
}
