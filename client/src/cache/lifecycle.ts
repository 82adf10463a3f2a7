// What a cached key and a cached prefix share: one `watch()` while anyone
// listens, a count of listeners, and a release delayed after the last one left.

import { AtomKVError } from '../errors.js'
import type { WatchEvent } from '../types.js'
import type { CacheClient } from './types.js'

type Listener = () => void

/** What a cached path needs of its cache. */
export interface CacheHost {
  readonly client: CacheClient
  readonly releaseDelayMs: number
  /** Forgets `path`: it stopped watching, a later listener starts afresh. */
  drop(path: CachedPath<unknown>): void
}

/** The lifecycle of a cached key or prefix: listeners counted, the watch started by the first, released after the last. */
export abstract class CachedPath<S> {
  /** What its listeners see: replaced, never mutated, and only when something changed. */
  state: S
  readonly #listeners = new Set<{ listener: Listener }>()
  #unwatch: (() => void) | undefined
  #releaseTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly path: string,
    private readonly host: CacheHost,
    initial: S,
  ) {
    this.state = initial
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
      // the state shows it. Anything else is a bug, and surfaces.
      if (!(error instanceof AtomKVError)) throw error
      this.#unwatch = noop
      this.onEvent({ type: 'error', error })
    }
  }

  #scheduleRelease(): void {
    const delay = this.host.releaseDelayMs
    if (delay <= 0) return this.release()
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = undefined
      if (this.#listeners.size === 0) this.release()
    }, delay)
    // A pending release must not keep a Node process (a test, a server renderer) alive.
    ;(this.#releaseTimer as { unref?: () => void }).unref?.()
  }

  /** Stops the watch and leaves the cache; a later listener starts afresh. */
  release(): void {
    if (this.#releaseTimer !== undefined) clearTimeout(this.#releaseTimer)
    this.#releaseTimer = undefined
    const unwatch = this.#unwatch
    this.#unwatch = undefined
    this.host.drop(this)
    unwatch?.()
  }

  protected publish(next: S): void {
    if (Object.is(next, this.state)) return
    this.state = next
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

  /** What it holds for `key` (`[null, -1]`: missing) while that is current; else `undefined`. */
  abstract known(key: string): readonly [unknown, number] | undefined
}

function noop(): void {}
