// Time, as the connection sees it: injected so a test can step retries and
// idle timeouts without waiting for them.

export type Timer = ReturnType<typeof setTimeout>

export interface Scheduler {
  setTimeout(callback: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  /** Milliseconds, for measuring durations. */
  now(): number
}

export const realScheduler: Scheduler = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer),
  now: () => Date.now(),
}
