import { isPrefix, keyProblem } from '@atomkv/client/protocol'
import { type Change, type ChangeListener, type DeleteResult, type Entry, REMOVED, type Store, StoreFullError, type Write, tellAll } from './store.js'

export interface MemoryStoreOptions {
  /** Most keys held at once; a write of a new key beyond it fails. Default 100 000. */
  maxKeys?: number
  /** A key not written for this long is removed (listeners hear it). Default 7 days; `0` keeps keys forever. */
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

const logToConsole = (message: string, error: unknown) => console.error(message, error)

/** A stored entry with when it was written, in ms since 1970. */
export interface TimedWrite extends Write {
  readonly writtenAt: number
}

/**
 * `ms` as V8 keeps it unboxed when it can. A subtraction of doubles gives a
 * boxed number even when it is a small integer, and one box makes V8 box the
 * field in every slot: `| 0` gives an unboxed one. Past 2^31 ms (~24 days)
 * `| 0` would wrap, so the double stays.
 */
function small(ms: number): number {
  const int = ms | 0
  return int === ms ? int : ms
}

/** The prefix just above a key or a prefix (`/a/b` and `/a/b/` → `/a/`); `undefined` for `/a` and `/a/`. */
function parentOf(path: string): string | undefined {
  const end = path.lastIndexOf('/', path.length - 2)
  return end > 0 ? path.slice(0, end + 1) : undefined
}

/**
 * The children of a prefix in the index: one is kept as itself, more in a Set
 * (never fewer than two). Most prefixes of a store keyed by id, like
 * `/users/<id>/`, hold one, and a Set costs ~130 bytes more than a string.
 */
type Children = string | Set<string>

/** Adds `child` under `parent`; false when `parent` had none before. */
function addChild(index: Map<string, Children>, parent: string, child: string): boolean {
  const children = index.get(parent)
  if (children === undefined) {
    index.set(parent, child)
    return false
  }
  if (typeof children !== 'string') children.add(child)
  else if (children !== child) index.set(parent, new Set([children, child]))
  return true
}

/** Removes `child` from under `parent`; true when `parent` has none left. */
function removeChild(index: Map<string, Children>, parent: string, child: string): boolean {
  const children = index.get(parent)
  if (children === undefined) return true
  if (typeof children === 'string') {
    if (children !== child) return false
    index.delete(parent)
    return true
  }
  children.delete(child)
  if (children.size === 1) index.set(parent, children.values().next().value!)
  return false
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
  /**
   * The prefix index, a tree by direct parent, so a prefix snapshot walks only
   * what is under the prefix: each prefix's own keys (`/a/` → `/a/b`), and its
   * sub-prefixes (`/a/` → `/a/b/`). Each stored key is there exactly once (top
   * keys like `/a`, under no prefix, not at all); a prefix is there only while
   * a stored key is below it, so neither map outgrows the keys stored.
   */
  readonly #keysUnder = new Map<string, Children>()
  readonly #prefixesUnder = new Map<string, Children>()
  readonly #listeners = new Set<ChangeListener>()
  #order = 0
  /** Characters of the keys and values stored. */
  #chars = 0
  /** `Date.now()` when the store was made: write times count from it, so they stay small integers. */
  readonly #epoch = Date.now()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
    this.expireAfterMs = options.expireAfterMs ?? DEFAULT_EXPIRE_AFTER_MS
    if (!(this.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${this.maxKeys}`)
    if (!(this.expireAfterMs >= 0)) throw new RangeError(`expireAfterMs must be 0 or more, got ${this.expireAfterMs}`)
    if (this.expireAfterMs > 0) {
      // Reads already treat expired keys as missing (and remove them); the sweep
      // removes the ones nobody reads, so their subscribers hear of it too.
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

  delete(key: string, revision?: number): Promise<DeleteResult> {
    const current = this.#live(key)
    if (!current) return Promise.resolve('missing')
    if (revision !== undefined && revision !== current.revision) return Promise.resolve('conflict')
    this.#remove(key, current)
    return Promise.resolve('deleted')
  }

  list(subscriptions: readonly string[]): Promise<Write[]> {
    try {
      return Promise.resolve(this.#list(subscriptions))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Looks keys up and walks the index under prefixes: costs what it finds, not the store's size. */
  #list(subscriptions: readonly string[]): Write[] {
    const keys = new Set<string>()
    const prefixes = new Set<string>()
    for (const subscription of subscriptions) (isPrefix(subscription) ? prefixes : keys).add(subscription)
    // A path under another subscribed prefix is found there: skipping it keeps each key once.
    const covered = (path: string) => {
      for (let prefix = parentOf(path); prefix !== undefined; prefix = parentOf(prefix)) {
        if (prefixes.has(prefix)) return true
      }
      return false
    }
    const now = this.#now()
    // Found keys and their slots, side by side (a pair per key would be one more object each).
    const foundKeys: string[] = []
    const foundSlots: Slot[] = []
    const expired: string[] = []
    const take = (key: string, slot: Slot) => {
      if (this.#expired(slot, now)) expired.push(key)
      else {
        foundKeys.push(key)
        foundSlots.push(slot)
      }
    }
    for (const key of keys) {
      const slot = this.#slots.get(key)
      if (slot && !(prefixes.size > 0 && covered(key))) take(key, slot)
    }
    for (const top of prefixes) {
      if (covered(top)) continue
      const walk = [top]
      for (let prefix = walk.pop(); prefix !== undefined; prefix = walk.pop()) {
        const keysHere = this.#keysUnder.get(prefix)
        if (typeof keysHere === 'string') take(keysHere, this.#slots.get(keysHere)!)
        else if (keysHere) for (const key of keysHere) take(key, this.#slots.get(key)!)
        const below = this.#prefixesUnder.get(prefix)
        if (typeof below === 'string') walk.push(below)
        else if (below) for (const next of below) walk.push(next)
      }
    }
    for (const key of expired) this.#remove(key, this.#slots.get(key)!) // what a read finds expired, it removes
    const writes: Write[] = []
    for (const i of this.#oldestFirst(foundSlots)) {
      const { json, revision } = foundSlots[i]!
      writes.push({ key: foundKeys[i]!, json, revision })
    }
    return writes
  }

  /** The positions in `slots`, oldest write first. */
  #oldestFirst(slots: readonly Slot[]): Iterable<number> {
    const n = slots.length
    // Counted from the oldest slot's order (the Map's first), order × n + i is a safe integer.
    const oldest = this.#slots.values().next().value?.order ?? 0
    if (n < 64 || (this.#order - oldest) * n > Number.MAX_SAFE_INTEGER) {
      return Array.from(slots.keys()).sort((a, b) => slots[a]!.order - slots[b]!.order)
    }
    // A big snapshot: plain numbers sort natively, faster than with a comparator
    // (100 000 keys: ~25 ms less). Each holds a slot's order and its position.
    const codes = new Float64Array(n)
    for (let i = 0; i < n; i++) codes[i] = (slots[i]!.order - oldest) * n + i
    codes.sort()
    for (let j = 0; j < n; j++) codes[j] = codes[j]! % n
    return codes
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

  /** Every entry with when it was written (ms since 1970), oldest write first, expired or not: for a durable snapshot. */
  dump(): TimedWrite[] {
    const found: TimedWrite[] = []
    for (const [key, { json, revision, writtenAt }] of this.#slots) {
      found.push({ key, json, revision, writtenAt: this.#epoch + writtenAt })
    }
    return found
  }

  /**
   * Restores entries with their revisions (a snapshot from `list`, oldest
   * write first), so a client's compare-and-swap against a restored key is
   * judged exactly as before a restart. Listeners are not told: these are not
   * new writes. An entry's `writtenAt` (ms since 1970; default now) keeps its
   * expiry where it was. Only for keys not stored yet; throws (storing
   * nothing) on an invalid entry, a key already stored, or when the store
   * would pass `maxKeys`.
   */
  load(entries: Iterable<Write & { readonly writtenAt?: number }>): void {
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
    const now = this.#now()
    for (const { key, json, revision, writtenAt } of batch) {
      const at = writtenAt === undefined ? now : small(writtenAt - this.#epoch)
      this.#slots.set(key, { json, revision, writtenAt: at, order: this.#order++ })
      this.#chars += key.length + json.length
      this.#index(key)
    }
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  size(): number {
    this.sweep()
    return this.#slots.size
  }

  /** Characters of the keys and values stored (a UTF-16 code unit each, as the heap holds most strings). */
  chars(): number {
    return this.#chars
  }

  /** Removes expired keys. Runs on a timer; cheap, since it stops at the first live key. */
  sweep(): void {
    if (this.expireAfterMs === 0) return
    const now = this.#now()
    for (const [key, slot] of this.#slots) {
      if (!this.#expired(slot, now)) break
      this.#remove(key, slot)
    }
  }

  /**
   * The prefixes the index holds, sorted: for tests and stats. Each has a
   * stored key below it (one that expired counts until a read or the sweep
   * removes it).
   */
  indexedPrefixes(): string[] {
    return [...new Set([...this.#keysUnder.keys(), ...this.#prefixesUnder.keys()])].sort()
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#listeners.clear()
  }

  /** The time in ms since the store was made: an integer, small for the first days. */
  #now(): number {
    return small(Date.now() - this.#epoch)
  }

  #expired(slot: Slot, now: number): boolean {
    return this.expireAfterMs > 0 && now - slot.writtenAt >= this.expireAfterMs
  }

  #live(key: string): Slot | undefined {
    const slot = this.#slots.get(key)
    if (slot && this.#expired(slot, this.#now())) {
      this.#remove(key, slot)
      return undefined
    }
    return slot
  }

  /** Forgets `key` (stored as `slot`), and the prefixes above it that hold nothing else; tells the listeners. */
  #remove(key: string, slot: Slot): void {
    this.#chars -= key.length + slot.json.length
    this.#slots.delete(key)
    this.#unindex(key)
    this.#tell({ key, json: 'null', revision: REMOVED, removedRevision: slot.revision })
  }

  #unindex(key: string): void {
    const parent = parentOf(key)
    if (parent === undefined || !removeChild(this.#keysUnder, parent, key)) return
    if (this.#prefixesUnder.has(parent)) return
    // `parent` held only that key: leave it under the prefix above, and so on up.
    for (let child = parent, above = parentOf(child); above !== undefined; child = above, above = parentOf(child)) {
      if (!removeChild(this.#prefixesUnder, above, child) || this.#keysUnder.has(above)) return
    }
  }

  /** Enters a new key in the index, and the prefixes above it that were not there yet. */
  #index(key: string): void {
    const parent = parentOf(key)
    if (parent === undefined || addChild(this.#keysUnder, parent, key) || this.#prefixesUnder.has(parent)) return
    for (let child = parent, above = parentOf(child); above !== undefined; child = above, above = parentOf(child)) {
      if (addChild(this.#prefixesUnder, above, child) || this.#keysUnder.has(above)) return
    }
  }

  #write(key: string, json: string, current: Slot | undefined): Entry {
    if (!current && this.#slots.size >= this.maxKeys) {
      this.sweep()
      if (this.#slots.size >= this.maxKeys) throw new StoreFullError(this.maxKeys)
    }
    const revision = current ? current.revision + 1 : 0
    const writtenAt = this.#now()
    this.#slots.delete(key)
    this.#slots.set(key, { json, revision, writtenAt, order: this.#order++ })
    this.#chars += json.length - (current ? current.json.length : -key.length)
    if (!current) this.#index(key) // a key written again is indexed already
    this.#tell({ key, json, revision, writtenAt: this.#epoch + writtenAt })
    return { json, revision }
  }

  #tell(change: Change): void {
    tellAll(this.#listeners, change, logToConsole)
  }
}
