// The registry: one cached state per watched key or prefix, the handles on
// them, and writes whose confirmed value every covering path shows at once.

import type { AtomKVClient } from '../client.js'
import { AtomKVError } from '../errors.js'
import { coveringPaths, covers, keyProblem } from '../protocol/index.js'
import type { Known, Modifier } from '../modify.js'
import { CachedKey } from './key.js'
import type { CacheHost } from './lifecycle.js'
import type { PendingWrite } from './optimistic.js'
import { CachedPrefix } from './prefix.js'
import {
  DEFAULT_RELEASE_DELAY_MS,
  LOADING_KEY,
  LOADING_PREFIX,
  type CacheClient,
  type CacheModifyOptions,
  type CacheOptions,
  type CacheStatus,
  type CacheWriteOptions,
  type KeyHandle,
  type KeyState,
  type PrefixHandle,
  type PrefixState,
  type Prefetched,
} from './types.js'

/**
 * A client's cache: `client.cache`, made with the client, one per client, so
 * every adapter on that client shares its keys, prefixes and subscriptions.
 */
export class AtomKVCache {
  /** How long a path stays subscribed after its last listener left; see `CacheOptions`. Fixed at creation. */
  readonly releaseDelayMs: number
  readonly #paths = new Map<string, CachedKey | CachedPrefix>()
  readonly #host: CacheHost

  constructor(
    readonly client: CacheClient,
    options: CacheOptions = {},
  ) {
    this.releaseDelayMs = checkDelay(options.releaseDelayMs ?? DEFAULT_RELEASE_DELAY_MS)
    this.#host = {
      client,
      releaseDelayMs: this.releaseDelayMs,
      drop: (cached) => {
        if (this.#paths.get(cached.path) === cached) this.#paths.delete(cached.path)
      },
    }
  }

  /** Watched keys and prefixes (observed, or within their release delay). */
  get size(): number {
    return this.#paths.size
  }

  /** The listeners of `path` (a key or a prefix); 0 when it is not watched. */
  observers(path: string): number {
    return this.#paths.get(path)?.observers ?? 0
  }

  /**
   * A handle on `key`. It holds nothing until listened to; an invalid key gives
   * a handle whose state is an `invalid-key` error and that never subscribes.
   */
  key<T = unknown>(key: string): KeyHandle<T> {
    const problem = keyProblem(key)
    const invalid = problem === undefined ? undefined : invalidState(key, problem, { ...LOADING_KEY })
    return {
      key,
      get: () => (invalid ?? this.#paths.get(key)?.state ?? LOADING_KEY) as KeyState<T>,
      initial: () => (invalid ?? (this.#paths.get(key) as CachedKey | undefined)?.hydrated ?? LOADING_KEY) as KeyState<T>,
      listen: (listener) => (invalid ? noop : this.#cached(key, CachedKey).listen(listener)),
      set: (value, options) => this.set(key, value, options),
      modify: async (fn, options) => (await this.modify(key, fn, options))?.[0],
      remove: (options) => this.client.delete(key, options),
    }
  }

  /** A handle on every key under `prefix` (which ends with `/`). Holds nothing until listened to. */
  prefix<T = unknown>(prefix: string): PrefixHandle<T> {
    const problem = prefix.endsWith('/') ? keyProblem(prefix, true) : 'a prefix must end with "/"'
    const invalid = problem === undefined ? undefined : invalidState(prefix, problem, { ...LOADING_PREFIX })
    return {
      prefix,
      get: () => (invalid ?? this.#paths.get(prefix)?.state ?? LOADING_PREFIX) as PrefixState<T>,
      listen: (listener) => (invalid ? noop : this.#cached(prefix, CachedPrefix).listen(listener)),
    }
  }

  /**
   * Force-set through the client. Shown at once, `pending`, on a watched key
   * (unless `optimistic: false`); the stored value once the server confirmed it.
   */
  async set<T>(key: string, value: T, options: CacheWriteOptions = {}): Promise<number> {
    const write = this.#begin(key, () => value, options)
    let revision: number
    try {
      revision = await this.client.set(key, value)
    } catch (error) {
      write?.settle()
      throw error
    }
    this.#settle(key, write, value, revision)
    return revision
  }

  /**
   * `client.modify()`, shown at once: `fn`'s expected value while it is in
   * flight (unless `optimistic: false`), the committed value when it is done.
   * Resolves to `[value, revision]`, the value as the server stores it (its
   * JSON), or to `undefined` when `fn` aborted.
   */
  async modify<T>(
    key: string,
    fn: Modifier<T>,
    options: CacheModifyOptions = {},
  ): Promise<[value: T, revision: number] | undefined> {
    const { optimistic, ...modifyOptions } = options
    const write = this.#begin(key, fn as PendingWrite['fn'], { optimistic })
    let result: [value: T, revision: number] | undefined
    try {
      result = await this.client.modify<T>(key, fn, modifyOptions)
    } catch (error) {
      write?.settle()
      throw error
    }
    if (result === undefined) {
      write?.settle()
      return undefined
    }
    return [this.#settle(key, write, result[0], result[1]) as T, result[1]]
  }

  /**
   * Starts keys from values read elsewhere, such as a server's `prefetch()`:
   * a component's first render shows them, with no loading state, and the
   * server rendering that used the same values matches. Only keys not loaded
   * yet take them; the stream then brings what changed since. Keys only (a
   * prefix's map is not hydrated). Held until first observed.
   */
  hydrate(data: Prefetched): void {
    for (const [key, [value, revision]] of Object.entries(data)) {
      if (keyProblem(key) !== undefined) continue
      ;(this.#cached(key, CachedKey) as CachedKey).hydrate(value, revision)
    }
  }

  /**
   * What the cache knows of `key` now, from the key or a prefix above it
   * being watched and up to date: `[value, revision]` (`[null, -1]`: missing),
   * else `undefined`. `modify()` starts from it instead of reading the key.
   */
  peek(key: string): Known | undefined {
    for (const path of coveringPaths(key)) {
      const known = this.#paths.get(path)?.known(key)
      if (known) return known
    }
    return undefined
  }

  /** Stops watching every path now, without waiting for release delays; their listeners get no more changes. */
  clear(): void {
    for (const cached of [...this.#paths.values()]) cached.release()
  }

  #cached(path: string, Kind: typeof CachedKey | typeof CachedPrefix): CachedKey | CachedPrefix {
    let cached = this.#paths.get(path)
    if (!cached) {
      cached = new Kind(path, this.#host)
      this.#paths.set(path, cached)
    }
    return cached
  }

  /** An optimistic write on `key`, if it is watched and `optimistic` is not off. */
  #begin(key: string, fn: PendingWrite['fn'], { optimistic = true }: CacheWriteOptions): Settle | undefined {
    const cached = this.#paths.get(key)
    if (!optimistic || !(cached instanceof CachedKey)) return undefined
    const write = cached.begin(fn)
    return { settle: (committed) => cached.settle(write, committed) }
  }

  /** A write the server committed: its optimistic value ends, its stored value shows everywhere. */
  #settle(key: string, write: Settle | undefined, value: unknown, revision: number): unknown {
    // What the server stored is the JSON of the value: show exactly that, so
    // this tab and every other one agree (`undefined` fields, Dates, …).
    const stored = JSON.parse(JSON.stringify(value)) as unknown
    // First the key's pending write becomes its committed value, then the
    // confirmation: the other way round, one state would count the write twice.
    write?.settle({ value: stored, revision })
    for (const cached of this.#paths.values()) {
      if (covers(cached.path, key)) cached.confirm(key, stored, revision)
    }
    return stored
  }
}

/** Gives a client being made its cache (`createClient({ cache })`): `client.cache`, read-only. */
export function withCache(options: CacheOptions | undefined, client: Omit<AtomKVClient, 'cache'>): AtomKVClient {
  const cache = new AtomKVCache(client, options)
  return Object.defineProperty(client, 'cache', { value: cache, enumerable: true }) as AtomKVClient
}

/** Ends one optimistic write: committed as `{ value, revision }`, or dropped. */
interface Settle {
  settle(committed?: { value: unknown; revision: number }): void
}

function noop(): void {}

function checkDelay(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`releaseDelayMs must be a finite number >= 0, not ${ms}`)
  return ms
}

function invalidState<S extends { status: CacheStatus; error: AtomKVError | undefined }>(
  path: string,
  problem: string,
  base: S,
): S {
  const error = new AtomKVError(`invalid ${path.endsWith('/') ? 'prefix' : 'key'} ${JSON.stringify(path)}: ${problem}`, {
    code: 'invalid-key',
    key: path,
  })
  return Object.freeze({ ...base, status: 'error', error })
}
