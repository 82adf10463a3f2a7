// Who listens to what on one connection, and whether the stream can take one
// more path: the server's limit of keys and prefixes per stream, and the
// length of the subscription list in the stream's URL.

import { AtomKVError } from '../errors.js'
import { Listener, type ListenerSpec } from '../listener.js'
import { coveringPaths } from '../protocol/index.js'

export interface StreamLimits {
  /** Keys and prefixes on the stream: the protocol's default until the server names its own. */
  maxPaths: number
  /** Characters of the subscription list in the stream's URL. */
  maxQueryLength: number
  /** Characters `path` adds to the subscription list. */
  queryLength(path: string): number
}

export class Membership {
  /** The listeners of each key or prefix; a path with none is not kept. */
  readonly #paths = new Map<string, Set<Listener>>()
  /** None for a stream of one path. */
  readonly #limits: StreamLimits | undefined
  #queryLength = 0

  constructor(limits?: StreamLimits) {
    this.#limits = limits && { ...limits }
  }

  /** Number of distinct keys and prefixes. */
  get size(): number {
    return this.#paths.size
  }

  /** A new listener. Throws `too-many-subscriptions` when its path is new and the stream cannot take it. */
  add(spec: ListenerSpec): Listener {
    let listeners = this.#paths.get(spec.path)
    if (!listeners) {
      this.#admit(spec.path)
      listeners = new Set()
      this.#paths.set(spec.path, listeners)
    }
    const listener = new Listener(spec)
    listeners.add(listener)
    return listener
  }

  /** Removes a listener; true when that left its path without listeners (the stream should drop it). */
  delete(listener: Listener): boolean {
    const path = listener.path
    const listeners = this.#paths.get(path)
    if (!listeners?.delete(listener) || listeners.size > 0) return false
    this.#paths.delete(path)
    if (this.#limits) this.#queryLength -= this.#limits.queryLength(path)
    return true
  }

  /** Empties it; returns who was there. */
  clear(): Listener[] {
    const listeners = [...this.all()]
    this.#paths.clear()
    this.#queryLength = 0
    return listeners
  }

  *all(): Generator<Listener> {
    for (const listeners of this.#paths.values()) yield* listeners
  }

  /** The listeners of one key or prefix. */
  of(path: string): Iterable<Listener> {
    return this.#paths.get(path) ?? []
  }

  /** The listeners a write of `key` is for: those of the key itself and of every prefix above it. */
  *covering(key: string): Generator<Listener> {
    for (const path of coveringPaths(key)) yield* this.of(path)
  }

  some(predicate: (listener: Listener) => boolean): boolean {
    for (const listener of this.all()) if (predicate(listener)) return true
    return false
  }

  /** A steady listener of `listener`'s path, whose knowledge a newcomer can copy. */
  sibling(listener: Listener): Listener | undefined {
    for (const other of this.of(listener.path)) if (other !== listener && other.steady) return other
    return undefined
  }

  /**
   * Readies the listeners for a new stream, and splits the paths into those
   * that need a snapshot (`init`) and the others (`sub`). A listener not on a
   * stream starts its snapshot. A stream that cannot resume needs a snapshot
   * of every path, and its live listeners catch up from it, unless
   * `handedOver` (the old stream still brings them every write).
   */
  prepare(resumed: boolean, handedOver: boolean): { sub: string[]; init: string[] } {
    const sub: string[] = []
    const init: string[] = []
    for (const [path, listeners] of this.#paths) {
      let snapshot = !resumed
      for (const listener of listeners) {
        if (!listener.live) {
          listener.startSnapshot()
          snapshot = true
        } else if (!resumed && !handedOver) {
          listener.catchUp()
        }
      }
      ;(snapshot ? init : sub).push(path)
    }
    return { sub, init }
  }

  /** Whether `paths` are exactly the paths listened to. */
  matches(paths: ReadonlySet<string>): boolean {
    if (paths.size !== this.#paths.size) return false
    for (const path of paths) if (!this.#paths.has(path)) return false
    return true
  }

  /** The server says how many keys and prefixes it takes on one stream (one started with another limit). */
  learnLimit(header: string | null): void {
    const max = Number(header)
    if (this.#limits && header !== null && Number.isSafeInteger(max) && max > 0) this.#limits.maxPaths = max
  }

  #admit(path: string): void {
    const limits = this.#limits
    if (!limits) return
    if (this.#paths.size >= limits.maxPaths) {
      throw new AtomKVError(
        `${path}: a client follows at most ${limits.maxPaths} keys and prefixes at once; subscribe to a common prefix instead`,
        { code: 'too-many-subscriptions', key: path },
      )
    }
    const length = this.#queryLength + limits.queryLength(path)
    if (length > limits.maxQueryLength) {
      throw new AtomKVError(
        `${path}: the client's subscriptions would pass ${limits.maxQueryLength} characters of stream URL; subscribe to a common prefix instead`,
        { code: 'too-many-subscriptions', key: path },
      )
    }
    this.#queryLength = length
  }
}
