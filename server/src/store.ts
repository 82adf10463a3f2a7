// The storage contract the HTTP layer and the hub rely on. It is async so a
// shared store (Redis, a database) can replace the in-memory one.

/** A stored value: its JSON text, exactly as served, and its revision. */
export interface Entry {
  readonly json: string
  readonly revision: number
}

/** A committed write, as told to subscribers and returned by snapshots. */
export interface Write extends Entry {
  readonly key: string
}

export type WriteListener = (write: Write) => void

export interface Store {
  /** The current entry of `key`, or `undefined` when it does not exist (or has expired). */
  get(key: string): Promise<Entry | undefined>
  /**
   * Force-set: stores `json` as the next revision of `key` (`0` for a new key).
   * Rejects with {@link StoreFullError} when `key` is new and the store is full.
   */
  set(key: string, json: string): Promise<Entry>
  /**
   * Compare-and-swap: stores `json` only if `revision` is the current revision
   * plus one (`0` for a missing key). Resolves to the new entry, or to
   * `undefined` on a conflict. Rejects with {@link StoreFullError} like `set`.
   */
  update(key: string, json: string, revision: number): Promise<Entry | undefined>
  /**
   * The current entries of every key covered by `subscriptions` (keys, and
   * prefixes ending in `/`), each key once, **oldest write first**: a stream
   * sends them with their ids, and that order makes every one of those ids a
   * valid resume point.
   */
  list(subscriptions: readonly string[]): Promise<Write[]>
  /**
   * Calls `listener` for every committed write, in commit order, before the
   * write's promise resolves. Returns the function that unsubscribes.
   */
  subscribe(listener: WriteListener): () => void
  /** How many keys are stored (a remote store may answer from a cached count). */
  size(): number
  /** Characters of the keys and values stored, if the store knows (for metrics). */
  chars?(): number
  /** Releases timers and connections; the store is unusable afterwards. */
  close?(): void | Promise<void>
}

/** A write of a new key when the store already holds its maximum number of keys. */
export class StoreFullError extends Error {
  override name = 'StoreFullError'
  constructor(readonly maxKeys: number) {
    super(`the store is full (${maxKeys} keys)`)
  }
}
