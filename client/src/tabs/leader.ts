// What the leading tab does: it carries the watches of every tab on its own
// connection, sends each follower its events (a tick's in one message on the
// follower's own channel), and drops a follower's watches once its tab is
// gone: it waits on each follower's own lock, which the browser grants only
// when that tab has closed or crashed.

import { AtomKVError } from '../errors.js'
import type { ListenerSpec } from '../listener.js'
import type { WatchEvent } from '../types.js'
import { ignoreAbort, type Channel, type TabEnvironment } from './environment.js'
import { toWire, type EventsMessage, type FollowerRequest, type Names, type WireEvent } from './messages.js'
import { forwarded, type RemoteWatch } from './remote-watch.js'
import type { TabRole } from './share.js'

export interface LeaderContext {
  /** This client's id. */
  readonly id: string
  readonly env: TabEnvironment
  readonly names: Names
  /** Puts a listener on this client's own connection; returns its removal. May throw. */
  attach(spec: ListenerSpec): () => void
  /** Reconnect now if waiting to. */
  wake(): void
}

/** A follower's watches, as the leader holds them. */
interface Follower {
  /** Their removals from our connection, by the follower's watch id. */
  watches: Map<number, () => void>
  inbox: Channel
  /** Gives up waiting for the follower's lock. */
  monitor: AbortController
}

export class LeaderRole implements TabRole {
  readonly kind = 'leader'
  readonly leader: string
  readonly #context: LeaderContext
  /** This tab's own watches, by their removal from our connection. */
  readonly #own = new Map<RemoteWatch, () => void>()
  readonly #followers = new Map<string, Follower>()
  #outbox: Map<string, [number, WireEvent][]> | null = null

  constructor(context: LeaderContext) {
    this.leader = context.id
    this.#context = context
  }

  watch(watch: RemoteWatch): void {
    watch.resync()
    const remove = this.#attach(watch.path, (event) => watch.receive(event))
    if (remove) this.#own.set(watch, remove)
  }

  unwatch(watch: RemoteWatch): void {
    this.#own.get(watch)?.()
    this.#own.delete(watch)
  }

  onRequest(request: FollowerRequest): void {
    switch (request.type) {
      case 'watch':
        return this.#onWatch(request.from, request.watches)
      case 'unwatch': {
        const watches = this.#followers.get(request.from)?.watches
        for (const id of request.ids) {
          watches?.get(id)?.()
          watches?.delete(id)
        }
        return
      }
      case 'wake':
        return this.#context.wake()
    }
  }

  /** This client closes: every watch leaves our connection, and we stop watching the followers. */
  close(): void {
    for (const remove of this.#own.values()) remove()
    this.#own.clear()
    for (const [id, follower] of [...this.#followers]) this.#forget(id, follower)
  }

  #onWatch(from: string, watches: [number, string][]): void {
    let follower = this.#followers.get(from)
    if (!follower) {
      const { env, names } = this.#context
      const created: Follower = { watches: new Map(), inbox: new env.BroadcastChannel(names.inbox(from)), monitor: new AbortController() }
      follower = created
      this.#followers.set(from, created)
      // Granted once the follower let go of it: closed, or its tab gone.
      env.locks
        .request(names.inbox(from), { signal: created.monitor.signal }, async () => this.#forget(from, created))
        .catch(ignoreAbort)
    }
    for (const [id, path] of watches) {
      const remove = this.#attach(path, (event) => this.#send(from, id, event))
      if (remove) follower.watches.set(id, remove)
    }
  }

  #forget(id: string, follower: Follower): void {
    if (this.#followers.get(id) !== follower) return
    this.#followers.delete(id)
    follower.monitor.abort()
    for (const remove of follower.watches.values()) remove()
    follower.inbox.close()
  }

  /** A forwarded listener on our connection; a refusal goes to `emit` as an `error` event. */
  #attach(path: string, emit: (event: WatchEvent) => void): (() => void) | undefined {
    try {
      return this.#context.attach(forwarded(path, emit))
    } catch (error) {
      emit({ type: 'error', error: asAtomKVError(error, path) })
      return undefined
    }
  }

  /** Queues an event for a follower; a tick's events go in one message. */
  #send(to: string, id: number, event: WatchEvent): void {
    if (event.type === 'error') this.#followers.get(to)?.watches.delete(id) // the connection dropped it
    if (!this.#outbox) {
      const outbox = new Map<string, [number, WireEvent][]>()
      this.#outbox = outbox
      queueMicrotask(() => {
        this.#outbox = null
        for (const [tab, events] of outbox) {
          const message: EventsMessage = { type: 'events', from: this.leader, events }
          this.#followers.get(tab)?.inbox.postMessage(message)
        }
      })
    }
    let events = this.#outbox.get(to)
    if (!events) this.#outbox.set(to, (events = []))
    events.push([id, toWire(event)])
  }
}

function asAtomKVError(error: unknown, key: string): AtomKVError {
  if (error instanceof AtomKVError) return error
  return new AtomKVError(error instanceof Error ? error.message : String(error), { code: 'closed', key })
}
