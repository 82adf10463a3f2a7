// The registry: one entry per watched key or prefix, the handles on them, and
// writes whose confirmed value every covering entry shows at once.

import { AtomKVError } from '../errors.js'
import { covers, keyProblem } from '../protocol/index.js'
import type { Modifier, ModifyOptions } from '../modify.js'
import { KeyEntry } from './key.js'
import type { Entry, EntryHost } from './lifecycle.js'
import { PrefixEntry } from './prefix.js'
import {
  DEFAULT_RELEASE_DELAY,
  LOADING_KEY,
  LOADING_PREFIX,
  type CacheClient,
  type CacheOptions,
  type EntryStatus,
  type KeySnapshot,
  type KeyStore,
  type PrefixSnapshot,
  type PrefixStore,
} from './types.js'

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

function noop(): void {}

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
  return Object.freeze({ ...base, status: 'error', error })
}
