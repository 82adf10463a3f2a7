// The storage contract the HTTP layer and the hub rely on. It is async so a
// shared store (Redis, a database) can replace the in-memory one.

import { REMOVED } from '@atomkv/client/protocol'

export { REMOVED }

/** A stored value: its JSON text, exactly as served, and its revision. */
export interface Entry {
  readonly json: string
  readonly revision: number
}

/** A stored key with its entry, as snapshots return it. */
export interface Write extends Entry {
  readonly key: string
}

/**
 * A committed change, as told to listeners: a write, or a removal (a delete,
 * or an expiry), which has revision `-1` ({@link REMOVED}) and JSON `null`,
 * exactly as its event goes on the wire.
 */
export interface Change extends Write {
  /** A removal's: the revision the key had when it went. */
  readonly removedRevision?: number
  /** A write's: when it was made, in ms since 1970 (what expiry counts from). */
  readonly writtenAt?: number
}

export type ChangeListener = (change: Change) => void

/** What a delete did: removed the key, found none, or found another revision than the one asked. */
export type DeleteResult = 'deleted' | 'missing' | 'conflict'

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
   * Removes `key` (with `revision`, only if that is its current revision).
   * Listeners hear the removal like a write. The key's next write starts again
   * at revision `0`, as for any missing key.
   */
  delete(key: string, revision?: number): Promise<DeleteResult>
  /**
   * The current entries of every key covered by `subscriptions` (keys, and
   * prefixes ending in `/`), each key once, **oldest write first**: a stream
   * sends them with their ids, and that order makes every one of those ids a
   * valid resume point.
   */
  list(subscriptions: readonly string[]): Promise<Write[]>
  /**
   * Calls `listener` for every committed change, in commit order, before the
   * change's promise resolves; an expiry is told when the store notices it (a
   * read or its sweep). Returns the function that unsubscribes.
   */
  subscribe(listener: ChangeListener): () => void
  /** How many keys are stored (a remote store may answer from a cached count). */
  size(): number
  /** Characters of the keys and values stored, if the store knows (for metrics). */
  chars?(): number
  /**
   * A shared store's change feed can be interrupted (its connection lost, or
   * changes missed): the listener ends every stream so clients resume, and
   * when changes were missed forgets what it kept for resuming. Returns the
   * function that unsubscribes.
   */
  onInterruption?(listener: (interruption: FeedInterruption) => void): () => void
  /** False while a shared store cannot be reached: new streams are refused (`503`) and `/.health` says so. */
  available?(): boolean
  /** Releases timers and connections; the store is unusable afterwards. */
  close?(): void | Promise<void>
  /**
   * A durable store's history, read once when a service starts on it, so
   * streams resume across a restart: the name of that history (streams
   * carry it as `X-AtomKV-Instance`), its latest changes, oldest first, and
   * the highest revision any key removed before them had reached.
   */
  readonly history?: StoreHistory
}

export interface StoreHistory {
  readonly instance: string
  readonly changes: readonly Change[]
  readonly removedTop: number
}

export interface FeedInterruption {
  /** Why, for logs. */
  readonly reason: string
  /** Changes were missed: events kept for resuming no longer follow on from the ones to come. */
  readonly missed: boolean
  /** The history's name from now on (a new one when the shared store lost its data). */
  readonly instance: string
}

/** A read the store could not make (a shared store out of reach): answered `503`. */
export class StoreReadError extends Error {
  override name = 'StoreReadError'
}

/** A write the store could not make durable (a disk that refuses writes): answered `503`. */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError'
}

/** A write of a new key when the store already holds its maximum number of keys. */
export class StoreFullError extends Error {
  override name = 'StoreFullError'
  constructor(readonly maxKeys: number) {
    super(`the store is full (${maxKeys} keys)`)
  }
}

/**
 * Tells every listener `value`. A listener that throws is logged and harms
 * neither the others nor the change, which is committed already.
 */
export function tellAll<T>(listeners: Iterable<(value: T) => void>, value: T, logError: (message: string, error: unknown) => void): void {
  for (const listener of listeners) {
    try {
      listener(value)
    } catch (error) {
      logError('atomkv: a store listener threw', error)
    }
  }
}
