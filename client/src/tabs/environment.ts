// The two browser APIs tab sharing needs: Web Locks (who leads, and who is
// still alive) and BroadcastChannel (what the tabs say to each other).

export interface TabEnvironment {
  locks: {
    request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>
  }
  BroadcastChannel: new (name: string) => Channel
}

export interface Channel {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: MessageEvent) => void) | null
}

/** The browser's, when it has both (Web Locks exist only in secure contexts: https, localhost). */
export function browserTabEnvironment(): TabEnvironment | null {
  const locks = (globalThis as { navigator?: { locks?: TabEnvironment['locks'] } }).navigator?.locks
  const BroadcastChannel = (globalThis as { BroadcastChannel?: TabEnvironment['BroadcastChannel'] }).BroadcastChannel
  return locks && BroadcastChannel ? { locks, BroadcastChannel } : null
}

/** For a lock request given up on purpose (its signal aborted): anything else is a real error. */
export function ignoreAbort(error: unknown): void {
  if ((error as { name?: string } | null)?.name !== 'AbortError') throw error
}
