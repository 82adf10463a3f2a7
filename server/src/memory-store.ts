import { isPrefix, keyProblem } from '@atomkv/client'
import { prefixesOf } from './paths.js'
import { type Entry, type Store, StoreFullError, type Write, type WriteListener } from './store.js'

export interface MemoryStoreOptions {
  /** Most keys held at once; a write of a new key beyond it fails. Default 100 000. */
  maxKeys?: number
  /** A key not written for this long is dropped. Default 7 days; `0` keeps keys forever. */
  expireAfterMs?: number
}

export const DEFAULT_MAX_KEYS = 100_000
export const DEFAULT_EXPIRE_AFTER_MS = 7 * 24 * 60 * 60 * 1000

/**
 * What the store holds per key, kept small (the key itself is the Map's key).
 * Its numbers are integers that V8 keeps unboxed, as small integers (31 or 32
 * bits, by build): `order` for the first 2^30 writes at least, `writtenAt` for
 * the first ~12 days after the store was made. Past those they are still
 * correct, just boxed (16 bytes more each, in every slot).
 */
interface Slot extends Entry {
  /** When it was written, in ms since the store's `#epoch`. */
  readonly writtenAt: number
  /** Position in write order, to list snapshots oldest write first. */
  readonly order: number
}

/**
 * The default store: a Map in one process. Each write runs synchronously from
 * read to commit to notification, so writes to a key are atomic and listeners
 * hear them in commit order.
 */
export class MemoryStore implements Store {
  readonly maxKeys: number
  readonly expireAfterMs: number
  /** In write order: a write moves its key to the end, so expired keys sit at the front. */
  readonly #slots = new Map<string, Slot>()
  readonly #listeners = new Set<WriteListener>()
  #order = 0
  /** `Date.now()` when the store was made: write times count from it, so they stay small integers. */
  readonly #epoch = Date.now()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
    this.expireAfterMs = options.expireAfterMs ?? DEFAULT_EXPIRE_AFTER_MS
    if (!(this.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${this.maxKeys}`)
    if (!(this.expireAfterMs >= 0)) throw new RangeError(`expireAfterMs must be 0 or more, got ${this.expireAfterMs}`)
    if (this.expireAfterMs > 0) {
      // Reads already treat expired keys as missing; the sweep only frees memory.
      const every = Math.min(Math.max(this.expireAfterMs, 1000), 60_000)
      this.#sweeper = setInterval(() => this.sweep(), every)
      this.#sweeper.unref?.()
    }
  }

  get(key: string): Promise<Entry | undefined> {
    const slot = this.#live(key)
    return Promise.resolve(slot && { json: slot.json, revision: slot.revision })
  }

  set(key: string, json: string): Promise<Entry> {
    try {
      return Promise.resolve(this.#write(key, json, this.#live(key)))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  update(key: string, json: string, revision: number): Promise<Entry | undefined> {
    try {
      const current = this.#live(key)
      if (revision !== (current ? current.revision + 1 : 0)) return Promise.resolve(undefined)
      return Promise.resolve(this.#write(key, json, current))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  list(subscriptions: readonly string[]): Promise<Write[]> {
    const keys = new Set(subscriptions.filter((s) => !isPrefix(s)))
    const prefixes = new Set(subscriptions.filter(isPrefix))
    const found: Write[] = []
    if (prefixes.size === 0 && keys.size * 8 < this.#slots.size) {
      // A few keys in a big store: look them up rather than scan.
      const slots: [string, Slot][] = []
      for (const key of keys) {
        const slot = this.#live(key)
        if (slot) slots.push([key, slot])
      }
      slots.sort((a, b) => a[1].order - b[1].order)
      for (const [key, { json, revision }] of slots) found.push({ key, json, revision })
    } else {
      const now = this.#now()
      for (const [key, slot] of this.#slots) {
        if (this.#expired(slot, now)) continue
        const { json, revision } = slot
        const covered = keys.has(key) || (prefixes.size > 0 && prefixesOf(key).some((p) => prefixes.has(p)))
        if (covered) found.push({ key, json, revision })
      }
    }
    return Promise.resolve(found)
  }

  /** Every live entry, oldest write first: what {@link load} takes back after a restart. */
  entries(): Write[] {
    const now = this.#now()
    const found: Write[] = []
    for (const [key, slot] of this.#slots) {
      if (!this.#expired(slot, now)) found.push({ key, json: slot.json, revision: slot.revision })
    }
    return found
  }

  /**
   * Restores entries with their revisions (a snapshot from `list`, oldest
   * write first), so a client's compare-and-swap against a restored key is
   * judged exactly as before a restart. Listeners are not told: these are not
   * new writes. Only for keys not stored yet; throws (storing nothing) on an
   * invalid entry, a key already stored, or when the store would pass `maxKeys`.
   */
  load(entries: Iterable<Write>): void {
    const batch = [...entries]
    const seen = new Set<string>()
    for (const { key, json, revision } of batch) {
      const problem = keyProblem(key)
      if (problem) throw new TypeError(`cannot load ${JSON.stringify(key)}: ${problem}`)
      if (!Number.isSafeInteger(revision) || revision < 0) {
        throw new TypeError(`cannot load ${key}: revision must be an integer of at least 0, got ${revision}`)
      }
      if (typeof json !== 'string') throw new TypeError(`cannot load ${key}: json must be a string`)
      JSON.parse(json) // throws a SyntaxError on a corrupt value
      if (seen.has(key) || this.#live(key)) throw new TypeError(`cannot load ${key}: the key is already stored`)
      seen.add(key)
    }
    if (this.#slots.size + batch.length > this.maxKeys) throw new StoreFullError(this.maxKeys)
    const writtenAt = this.#now()
    for (const { key, json, revision } of batch) {
      this.#slots.set(key, { json, revision, writtenAt, order: this.#order++ })
    }
  }

  subscribe(listener: WriteListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  size(): number {
    this.sweep()
    return this.#slots.size
  }

  /** Drops expired keys. Runs on a timer; cheap, since it stops at the first live key. */
  sweep(): void {
    if (this.expireAfterMs === 0) return
    const now = this.#now()
    for (const [key, slot] of this.#slots) {
      if (!this.#expired(slot, now)) break
      this.#slots.delete(key)
    }
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#listeners.clear()
  }

  /** The time in ms since the store was made: an integer, small for the first days. */
  #now(): number {
    const ms = Date.now() - this.#epoch
    // A subtraction of doubles gives a boxed number even when it is a small
    // integer, and one box makes V8 box the field in every slot: `| 0` gives
    // an unboxed one. Past 2^31 ms (~24 days) `| 0` would wrap, so the double stays.
    const small = ms | 0
    return small === ms ? small : ms
  }

  #expired(slot: Slot, now: number): boolean {
    return this.expireAfterMs > 0 && now - slot.writtenAt >= this.expireAfterMs
  }

  #live(key: string): Slot | undefined {
    const slot = this.#slots.get(key)
    if (slot && this.#expired(slot, this.#now())) {
      this.#slots.delete(key)
      return undefined
    }
    return slot
  }

  #write(key: string, json: string, current: Slot | undefined): Entry {
    if (!current && this.#slots.size >= this.maxKeys) {
      this.sweep()
      if (this.#slots.size >= this.maxKeys) throw new StoreFullError(this.maxKeys)
    }
    const revision = current ? current.revision + 1 : 0
    this.#slots.delete(key)
    this.#slots.set(key, { json, revision, writtenAt: this.#now(), order: this.#order++ })
    const write: Write = { key, json, revision }
    for (const listener of this.#listeners) {
      try {
        listener(write)
      } catch (error) {
        // The write is committed; a failing listener must not turn it into an error.
        console.error('atomkv: a store listener threw', error)
      }
    }
    return { json, revision }
  }
}
