// The shared client-side cache that the React and Svelte adapters sit on: one
// observable entry per watched key or prefix, shared by every observer of it.
//
// - The first observer starts one `watch(path, …, { initial: true })`: the
//   current state comes in the stream, so there is no read-then-subscribe race.
// - The last observer leaving stops it after `releaseDelay` (1 s by default),
//   so React StrictMode's mount → unmount → mount and quick route changes keep
//   one subscription instead of churning the stream.
// - Snapshots are frozen, and a new one is made only when something changed:
//   an unchanged revision never notifies. That is the identity contract
//   `useSyncExternalStore` and Svelte stores need.
// - Bound: the cache holds only entries that have observers, plus those within
//   their release delay. A handle that is never observed holds nothing.

import { AtomKVError } from './errors.js'
import { covers, keyProblem } from './protocol/index.js'
import type { AtomKVClient } from './client.js'
import type { Modifier, ModifyOptions } from './modify.js'
import type { WatchEvent } from './types.js'

/** What the cache needs of a client. */
export type CacheClient = Pick<AtomKVClient, 'watch' | 'set' | 'modify'>

/** `loading` until the server's current state arrived; `error` once the subscription failed. */
export type EntryStatus = 'loading' | 'ready' | 'error'

/** One key as the cache knows it. A missing key is value `null`, revision `-1`, status `ready`. */
export interface KeySnapshot<T = unknown> {
  readonly value: T | null
  readonly revision: number
  readonly status: EntryStatus
  readonly error: AtomKVError | undefined
}

/** One key under a watched prefix. */
export interface PrefixItem<T = unknown> {
  readonly value: T
  readonly revision: number
}

/** Every existing key under a prefix, by key, in the order they were first seen. */
export interface PrefixSnapshot<T = unknown> {
  readonly entries: ReadonlyMap<string, PrefixItem<T>>
  readonly status: EntryStatus
  readonly error: AtomKVError | undefined
}

/** The state of every key before anything is known: also what server rendering shows. */
export const LOADING_KEY: KeySnapshot<never> = Object.freeze({
  value: null,
  revision: -1,
  status: 'loading',
  error: undefined,
})

/** The state of every prefix before anything is known: also what server rendering shows. */
export const LOADING_PREFIX: PrefixSnapshot<never> = Object.freeze({
  entries: new Map<string, never>(),
  status: 'loading',
  error: undefined,
})

/** A value that can be read now and listened to for changes: the shape of every cache handle. */
export interface Observable<S> {
  /** The current snapshot; the same object until something changed. */
  get(): S
  /**
   * Calls `listener` (without arguments, not at once) after each change; returns
   * the function that stops it. While any listener is attached the entry is live.
   */
  listen(listener: () => void): () => void
}

/** A live key: read it, listen to it, write it. */
export interface KeyStore<T = unknown> extends Observable<KeySnapshot<T>> {
  readonly key: string
  /** Force-set; resolves to the new revision. */
  set(value: T): Promise<number>
  /**
   * The compare-and-swap retry loop (`client.modify`): `fn` sees only values the
   * server confirmed, and runs again after a conflict. Returning `undefined`
   * aborts. Resolves to the committed value, or `undefined` when aborted.
   */
  update(fn: Modifier<T>, options?: ModifyOptions): Promise<T | undefined>
}

/** A live prefix: every key under it. */
export interface PrefixStore<T = unknown> extends Observable<PrefixSnapshot<T>> {
  readonly prefix: string
}

export interface CacheOptions {
  /** Milliseconds an entry stays subscribed after its last observer left. Default 1000; `0` stops at once. */
  releaseDelay?: number
}

export const DEFAULT_RELEASE_DELAY = 1000

type Listener = () => void

/** What an entry needs of its cache. */
interface EntryHost {
  readonly client: CacheClient
  releaseDelay(): number
  drop(entry: Entry<unknown>): void
}

/** Lifecycle shared by key and prefix entries: reference counting and the delayed release. */
abstract class Entry<S> {
  snapshot: S
  readonly #listeners = new Set<{ listener: Listener }>()
  #unwatch: (() => void) | undefined
  #releaseTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly path: string,
    private readonly host: EntryHost,
    initial: S,
  ) {
    this.snapshot = initial
  }

  get observers(): number {
    return this.#listeners.size
  }

  listen(listener: Listener): () => void {
    if (this.#releaseTimer !== undefined) {
      clearTimeout(this.#releaseTimer)
      this.#releaseTimer = undefined
    }
    // A wrapper per call, so the same function listening twice needs two stops.
    const token = { listener }
    this.#listeners.add(token)
    if (this.#unwatch === undefined) {
      try {
        this.#start()
      } catch (error) {
        this.#listeners.delete(token)
        throw error
      }
    }
    let stopped = false
    return () => {
      if (stopped) return
      stopped = true
      this.#listeners.delete(token)
      if (this.#listeners.size === 0) this.#scheduleRelease()
    }
  }

  #start(): void {
    try {
      this.#unwatch = this.host.client.watch(this.path, (event) => this.onEvent(event), { initial: true })
    } catch (error) {
      // The client is closed, or its stream carries no more subscriptions:
      // the entry shows it. Anything else is a bug, and surfaces.
      if (!(error instanceof AtomKVError)) throw error
      this.#unwatch = noop
      this.onEvent({ type: 'error', error })
    }
  }

  #scheduleRelease(): void {
    const delay = this.host.releaseDelay()
    if (delay <= 0) return this.release()
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = undefined
      if (this.#listeners.size === 0) this.release()
    }, delay)
    // A pending release must not keep a Node process (a test, a server renderer) alive.
    ;(this.#releaseTimer as { unref?: () => void }).unref?.()
  }

  /** Stops the watch and forgets the entry; a later observer starts afresh. */
  release(): void {
    if (this.#releaseTimer !== undefined) clearTimeout(this.#releaseTimer)
    this.#releaseTimer = undefined
    const unwatch = this.#unwatch
    this.#unwatch = undefined
    this.host.drop(this)
    unwatch?.()
  }

  protected publish(next: S): void {
    if (Object.is(next, this.snapshot)) return
    this.snapshot = next
    for (const token of [...this.#listeners]) {
      // A throwing listener must not starve the others, nor break the client's dispatch.
      try {
        token.listener()
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  protected abstract onEvent(event: WatchEvent): void
  /** A write this client made and the server confirmed, applied before its echo arrives. */
  abstract confirm(key: string, value: unknown, revision: number): void
}

class KeyEntry extends Entry<KeySnapshot> {
  // Between a `reset` and its `ready`: a key that gets no value by then is gone.
  #rebuilding = false
  #seen = false

  constructor(key: string, host: EntryHost) {
    super(key, host, LOADING_KEY)
  }

  protected onEvent(event: WatchEvent): void {
    const current = this.snapshot
    switch (event.type) {
      case 'value':
        if (event.key !== this.path) return
        this.#seen = true
        // Equality is by revision. Only across a reset (a server restart, an
        // expired key written again) may one revision mean another value.
        if (
          current.status === 'ready' &&
          current.revision === event.revision &&
          (!this.#rebuilding || sameJSON(current.value, event.value))
        ) {
          return
        }
        return this.publish(freeze({ value: event.value, revision: event.revision, status: 'ready', error: undefined }))
      case 'reset':
        this.#rebuilding = true
        this.#seen = false
        return
      case 'ready':
        if ((current.status === 'loading' || this.#rebuilding) && !this.#seen) this.publish(MISSING)
        this.#rebuilding = false
        this.#seen = false
        return
      case 'error':
        return this.publish(freeze({ ...current, status: 'error', error: event.error }))
    }
  }

  confirm(key: string, value: unknown, revision: number): void {
    const current = this.snapshot
    // Only the very next revision: the stream has delivered everything before
    // it, so the echo will be dropped as equal and nothing older can follow.
    if (key !== this.path || current.status !== 'ready' || this.#rebuilding) return
    if (revision !== current.revision + 1) return
    this.publish(freeze({ value, revision, status: 'ready', error: undefined }))
  }
}

class PrefixEntry extends Entry<PrefixSnapshot> {
  // The published map is never mutated: changes go to `#working`, and a new
  // snapshot is made once per microtask, however many events a chunk held.
  #working = new Map<string, PrefixItem>()
  // The state being collected before the first `ready`, or between a `reset` and its `ready`.
  #pending: Map<string, PrefixItem> | undefined = new Map()
  #flushQueued = false

  constructor(prefix: string, host: EntryHost) {
    super(prefix, host, LOADING_PREFIX)
  }

  protected onEvent(event: WatchEvent): void {
    switch (event.type) {
      case 'value': {
        if (!covers(this.path, event.key)) return
        if (this.#pending) {
          this.#pending.set(event.key, freeze({ value: event.value, revision: event.revision }))
          return
        }
        const item = this.#working.get(event.key)
        if (item?.revision === event.revision) return
        this.#working.set(event.key, freeze({ value: event.value, revision: event.revision }))
        return this.#queueFlush()
      }
      case 'reset':
        this.#pending = new Map()
        return
      case 'ready': {
        const pending = this.#pending
        if (!pending) return
        this.#pending = undefined
        // Keep the old item objects where nothing changed, so a list keyed by
        // them re-renders only the rows that did.
        const rebuilt = new Map<string, PrefixItem>()
        for (const [key, item] of pending) {
          const old = this.#working.get(key)
          const same = old && old.revision === item.revision && sameJSON(old.value, item.value)
          rebuilt.set(key, same ? old : item)
        }
        const unchanged =
          this.snapshot.status === 'ready' &&
          rebuilt.size === this.#working.size &&
          [...rebuilt].every(([key, item]) => this.#working.get(key) === item)
        this.#working = rebuilt
        if (!unchanged) this.#flush()
        return
      }
      case 'error':
        this.#flushQueued = false
        return this.publish(freeze({ entries: new Map(this.#working), status: 'error', error: event.error }))
    }
  }

  confirm(key: string, value: unknown, revision: number): void {
    if (!covers(this.path, key) || this.snapshot.status !== 'ready' || this.#pending) return
    const current = this.#working.get(key)?.revision ?? -1
    if (revision !== current + 1) return
    this.#working.set(key, freeze({ value, revision }))
    this.#queueFlush()
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    queueMicrotask(() => {
      if (this.#flushQueued) this.#flush()
    })
  }

  #flush(): void {
    this.#flushQueued = false
    this.publish(freeze({ entries: new Map(this.#working), status: 'ready', error: undefined }))
  }
}

const MISSING: KeySnapshot<never> = Object.freeze({ value: null, revision: -1, status: 'ready', error: undefined })

/**
 * One client's cache. Get the shared one with `getCache(client)`: every
 * adapter on that client then shares its entries and subscriptions.
 */
export class AtomKVCache {
  /** Milliseconds an entry stays subscribed after its last observer left; see `CacheOptions`. */
  releaseDelay: number
  readonly #entries = new Map<string, Entry<KeySnapshot> | Entry<PrefixSnapshot>>()
  readonly #host: EntryHost

  constructor(
    readonly client: CacheClient,
    options: CacheOptions = {},
  ) {
    this.releaseDelay = checkDelay(options.releaseDelay ?? DEFAULT_RELEASE_DELAY)
    this.#host = {
      client,
      releaseDelay: () => this.releaseDelay,
      drop: (entry) => {
        if (this.#entries.get(entry.path) === entry) this.#entries.delete(entry.path)
      },
    }
  }

  /** Live entries (observed, or within their release delay). */
  get size(): number {
    return this.#entries.size
  }

  /** The observers of `path` (a key or a prefix); 0 when it has no entry. */
  observers(path: string): number {
    return this.#entries.get(path)?.observers ?? 0
  }

  /**
   * A handle on `key`. It holds nothing until listened to; an invalid key gives
   * a handle whose snapshot is an `invalid-key` error and that never subscribes.
   */
  key<T = unknown>(key: string): KeyStore<T> {
    const problem = keyProblem(key)
    const invalid = problem === undefined ? undefined : invalidSnapshot(key, problem, { ...LOADING_KEY })
    return {
      key,
      get: () => (invalid ?? this.#entries.get(key)?.snapshot ?? LOADING_KEY) as KeySnapshot<T>,
      listen: (listener) => (invalid ? noop : this.#entry(key, KeyEntry).listen(listener)),
      set: (value) => this.set(key, value),
      update: async (fn, options) => (await this.modify(key, fn, options))?.[0],
    }
  }

  /** A handle on every key under `prefix` (which ends with `/`). Holds nothing until listened to. */
  prefix<T = unknown>(prefix: string): PrefixStore<T> {
    const problem = prefix.endsWith('/') ? keyProblem(prefix, true) : 'a prefix must end with "/"'
    const invalid = problem === undefined ? undefined : invalidSnapshot(prefix, problem, { ...LOADING_PREFIX })
    return {
      prefix,
      get: () => (invalid ?? this.#entries.get(prefix)?.snapshot ?? LOADING_PREFIX) as PrefixSnapshot<T>,
      listen: (listener) => (invalid ? noop : this.#entry(prefix, PrefixEntry).listen(listener)),
    }
  }

  /** Force-set through the client; the cache shows the value as soon as the server confirmed it. */
  async set<T>(key: string, value: T): Promise<number> {
    const revision = await this.client.set(key, value)
    this.#confirm(key, value, revision)
    return revision
  }

  /**
   * `client.modify()`, with the committed value shown at once. Resolves to
   * `[value, revision]`, the value as the server stores it (its JSON), or to
   * `undefined` when `fn` aborted.
   */
  async modify<T>(
    key: string,
    fn: Modifier<T>,
    options?: ModifyOptions,
  ): Promise<[value: T, revision: number] | undefined> {
    const result = await this.client.modify<T>(key, fn, options)
    if (result === undefined) return undefined
    return [this.#confirm(key, result[0], result[1]) as T, result[1]]
  }

  /** Stops every entry now, without waiting for release delays; their observers get no more changes. */
  clear(): void {
    for (const entry of [...this.#entries.values()]) entry.release()
  }

  #entry(path: string, Kind: typeof KeyEntry | typeof PrefixEntry): Entry<KeySnapshot> | Entry<PrefixSnapshot> {
    let entry = this.#entries.get(path)
    if (!entry) {
      entry = new Kind(path, this.#host)
      this.#entries.set(path, entry)
    }
    return entry
  }

  #confirm(key: string, value: unknown, revision: number): unknown {
    // What the server stored is the JSON of the value: show exactly that, so
    // this tab and every other one agree (`undefined` fields, Dates, …).
    const stored = JSON.parse(JSON.stringify(value)) as unknown
    for (const entry of this.#entries.values()) {
      if (covers(entry.path, key)) entry.confirm(key, stored, revision)
    }
    return stored
  }
}

const caches = new WeakMap<CacheClient, AtomKVCache>()

/**
 * The cache of `client`, made on first use and shared by everything that asks
 * for it (both adapters). `options` given here apply to it from now on.
 */
export function getCache(client: CacheClient, options?: CacheOptions): AtomKVCache {
  let cache = caches.get(client)
  if (!cache) {
    cache = new AtomKVCache(client, options)
    caches.set(client, cache)
  } else if (options?.releaseDelay !== undefined) {
    cache.releaseDelay = checkDelay(options.releaseDelay)
  }
  return cache
}

// ---- Typed keys -------------------------------------------------------------
// A schema maps keys to value types once: `{ '/counter': number; '/todos/': Todo }`.
// An entry whose name ends with `/` types every key under that prefix.

/** The declared prefixes of schema `S`. */
type SchemaPrefixes<S> = Extract<keyof S, `/${string}/`>

/** A key that schema `S` gives a type: a declared key, or any key under a declared prefix. */
export type SchemaKey<S> = Exclude<Extract<keyof S, string>, `${string}/`> | `${SchemaPrefixes<S>}${string}`

/** A prefix of schema `S`: a declared prefix or any prefix under one. */
export type SchemaPrefix<S> = SchemaPrefixes<S> | `${SchemaPrefixes<S>}${string}/`

/** The value type of `key` in schema `S` (a union when nested prefixes both match). */
export type SchemaValue<S, K extends string> = K extends keyof S
  ? S[K]
  : { [P in SchemaPrefixes<S>]: K extends `${P}${string}` ? S[P] : never }[SchemaPrefixes<S>]

/** The value type of keys under `prefix` in schema `S`: what any key it covers may hold. */
export type SchemaPrefixValue<S, Pre extends string> = {
  [K in Extract<keyof S, string>]: K extends `${Pre}${string}`
    ? S[K] // declared below (or at) the prefix
    : K extends `${string}/`
      ? Pre extends `${K}${string}`
        ? S[K] // a declared prefix above it
        : never
      : never
}[Extract<keyof S, string>]

// ---- helpers ----------------------------------------------------------------

function noop(): void {}

function freeze<T extends object>(value: T): T {
  return Object.freeze(value)
}

function checkDelay(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`releaseDelay must be a finite number >= 0, not ${ms}`)
  return ms
}

function invalidSnapshot<S extends { status: EntryStatus; error: AtomKVError | undefined }>(
  path: string,
  problem: string,
  base: S,
): S {
  const error = new AtomKVError(`invalid ${path.endsWith('/') ? 'prefix' : 'key'} ${JSON.stringify(path)}: ${problem}`, {
    code: 'invalid-key',
    key: path,
  })
  return freeze({ ...base, status: 'error', error })
}

/** Structural equality of two JSON values (what the server stores). */
function sameJSON(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJSON(item, b[i]))
  }
  if (Array.isArray(b)) return false
  const aKeys = Object.keys(a)
  const bRecord = b as Record<string, unknown>
  return (
    aKeys.length === Object.keys(b).length &&
    aKeys.every((k) => Object.hasOwn(bRecord, k) && sameJSON((a as Record<string, unknown>)[k], bRecord[k]))
  )
}
