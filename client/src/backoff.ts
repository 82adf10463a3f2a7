// Capped exponential backoff with full jitter: the delay before retry n is
// uniform in [0, min(max, min * 2^n)]. Full jitter spreads a crowd of clients
// (every tab of a restarted server, every modify() loop of a hot key) instead
// of having them retry in lockstep.

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. */
  minDelayMs: number
  /** Cap of the delay, in ms. */
  maxDelayMs: number
}

export function backoffDelay(attempt: number, { minDelayMs, maxDelayMs }: BackoffOptions): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30))
  return Math.random() * ceiling
}

/** Waits `ms`; rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
