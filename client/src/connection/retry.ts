// How long to wait before reopening a failed stream: capped exponential
// backoff with full jitter (backoff.ts), counted over consecutive failures.

import { backoffDelay, type BackoffOptions } from '../backoff.js'

/** A stream that lived this long before failing was healthy: its failure restarts the backoff. */
export const STABLE_MS = 5_000

export class RetryPolicy {
  readonly #options: BackoffOptions
  #failures = 0

  constructor(options: BackoffOptions) {
    this.#options = options
  }

  /** Something worked (an event arrived, a refusal no retry could cure): the next failure starts over. */
  reset(): void {
    this.#failures = 0
  }

  /** The delay before the next attempt, after a stream that failed `livedMs` after its answer (null: none came). */
  next(livedMs: number | null): number {
    if (livedMs !== null && livedMs >= STABLE_MS) this.#failures = 0
    return backoffDelay(this.#failures++, this.#options)
  }
}
