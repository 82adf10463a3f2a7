// `shareAcrossTabs`: one event stream for every tab of a browser.
//
// Of the clients of one service URL in a browser (one per tab, usually), the
// one holding the Web Lock `atomkv/2:<url>` leads (leader.ts): its own
// connection carries the watches of every client. The others follow
// (follower.ts): they send their watches to the leader over the
// BroadcastChannel `atomkv/2:<url>` and get the events back on a channel of
// their own, `atomkv/2:<url>#<client id>`, so no tab decodes the events of
// another. The browser hands the lock to the next client in line when the
// leader closes, its tab goes away or crashes; this file runs that election
// and gives the client the role it has.
//
// Every watch is forwarded as `initial` and `fullResync`, whatever its caller
// asked: each watch of a tab (remote-watch.ts) applies the same rules as the
// connection does to its own listeners. That is what makes a change of
// leader lose nothing: the new leader opens a new stream, and the snapshot it
// gets for every watch is compared, revision by revision, with what the
// watch has seen. Writes made while no tab led arrive as the values that
// changed; nothing is delivered twice.

import { AtomKVError } from '../errors.js'
import type { ListenerSpec } from '../listener.js'
import { randomId } from '../random-id.js'
import type { SharedView } from '../status.js'
import type { ConnectionStatus } from '../types.js'
import { ignoreAbort, type Channel, type TabEnvironment } from './environment.js'
import { FollowerRole } from './follower.js'
import { LeaderRole } from './leader.js'
import { namesFor, type ControlMessage, type EventsMessage, type Names } from './messages.js'
import { RemoteWatch } from './remote-watch.js'

export { browserTabEnvironment, type TabEnvironment } from './environment.js'

/** What a tab does for the shared stream, as leader or as follower. */
export interface TabRole {
  readonly kind: 'leader' | 'follower'
  /** The leading client's id (this one's, when leading). */
  readonly leader: string
  /** Puts a watch on the stream, from its start: the leader's snapshot comes first. */
  watch(watch: RemoteWatch): void
  unwatch(watch: RemoteWatch): void
  /** The role ends: another tab leads, or this client closes. */
  close(): void
}

export interface TabShareOptions {
  /** The service's base URL: clients of the same one share. */
  url: string
  env: TabEnvironment
  /** Puts a listener on this client's own connection (used while leading). May throw. */
  attach(spec: ListenerSpec): () => void
  /** Reconnect now if waiting to (a follower's page became visible). */
  wake(): void
  /** `view` changed. */
  onChange(): void
}

export class TabShare {
  readonly #id = randomId()
  readonly #options: TabShareOptions
  readonly #names: Names
  readonly #control: Channel
  readonly #inbox: Channel
  readonly #watches = new Map<number, RemoteWatch>()
  #nextWatchId = 0
  /** Null while no tab is known to lead. */
  #role: LeaderRole | FollowerRole | null = null
  /** The latest leader's: when it took the lock (an older one's late message must not win it back), its stream's status. */
  #lead: { since: number; status: ConnectionStatus } = { since: -Infinity, status: 'closed' }
  /** Leaders followed so far: after the first, a new stream is a reconnection. */
  #leaders = 0
  /** This client's own connection's status: what the others see while it leads. */
  #ownStatus: ConnectionStatus = 'closed'
  /** Our own lock is held: other clients may now hear from us. */
  #announced = false
  #closed = false
  /** Lets go of both locks, and of the wait for them. */
  readonly #lifetime = new AbortController()
  #releaseLocks!: () => void

  constructor(options: TabShareOptions) {
    this.#options = options
    this.#names = namesFor(options.url)
    const { BroadcastChannel, locks } = options.env
    this.#control = new BroadcastChannel(this.#names.control)
    this.#control.onmessage = (event) => this.#onControl(event.data as ControlMessage)
    this.#inbox = new BroadcastChannel(this.#names.inbox(this.#id))
    this.#inbox.onmessage = (event) => this.#onEvents(event.data as EventsMessage)
    const released = new Promise<void>((resolve) => (this.#releaseLocks = resolve))
    const signal = this.#lifetime.signal
    // Our own lock first: the leader takes it to mean we are alive, so nobody may hear from us before we hold it.
    locks
      .request(this.#names.inbox(this.#id), { signal }, () => {
        if (this.#closed) return Promise.resolve()
        this.#announced = true
        this.#post({ type: 'hello', from: this.#id })
        locks.request(this.#names.control, { signal }, () => this.#takeLead(released)).catch(ignoreAbort)
        return released
      })
      .catch(ignoreAbort)
  }

  /** What this tab knows of the shared stream, for its status. */
  get view(): SharedView {
    return {
      watching: !this.#closed && this.#watches.size > 0,
      leaderStatus: this.#role ? this.#lead.status : null,
      leaders: this.#leaders,
    }
  }

  get leading(): boolean {
    return this.#role?.kind === 'leader'
  }

  /** A watch of this client; returns its removal. */
  add(spec: ListenerSpec): () => void {
    if (this.#closed) throw new AtomKVError('the client is closed', { code: 'closed', key: spec.path })
    const watch: RemoteWatch = new RemoteWatch(this.#nextWatchId++, spec, () => this.#drop(watch))
    this.#watches.set(watch.id, watch)
    this.#role?.watch(watch)
    if (this.#watches.size === 1) this.#options.onChange()
    return () => this.#drop(watch)
  }

  /** The status of this client's own connection: announced to the others while it leads. */
  setConnectionStatus(status: ConnectionStatus): void {
    this.#ownStatus = status
    if (!this.leading || status === this.#lead.status) return
    this.#lead.status = status
    this.#announce()
  }

  wake(): void {
    if (this.#role?.kind === 'follower') this.#role.wake()
  }

  /** Leaves: the next client in line leads. Watches get `end()`. */
  close(): void {
    if (this.#closed) return
    if (this.leading) this.#post({ type: 'resign', from: this.#id })
    this.#closed = true
    this.#role?.close()
    this.#role = null
    this.#releaseLocks()
    this.#lifetime.abort()
    this.#control.close()
    this.#inbox.close()
    const watches = [...this.#watches.values()]
    this.#watches.clear()
    for (const watch of watches) watch.end()
  }

  #drop(watch: RemoteWatch): void {
    if (this.#watches.get(watch.id) !== watch) return
    this.#watches.delete(watch.id)
    watch.close()
    this.#role?.unwatch(watch)
    if (this.#watches.size === 0) this.#options.onChange()
  }

  #post(message: ControlMessage): void {
    if (!this.#closed) this.#control.postMessage(message)
  }

  #announce(): void {
    const { since, status } = this.#lead
    this.#post({ type: 'leader', from: this.#id, since, status })
  }

  /** We hold the lock: lead until the client closes. */
  #takeLead(released: Promise<void>): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#follow(this.#id, now(), this.#ownStatus)
    this.#announce()
    return released
  }

  /** A new leader (maybe us): the role changes, and every watch starts again with it. */
  #follow(leader: string, since: number, status: ConnectionStatus): void {
    this.#role?.close()
    const { env, attach, wake } = this.#options
    const id = this.#id
    this.#role =
      leader === id
        ? new LeaderRole({ id, env, names: this.#names, attach, wake })
        : new FollowerRole(leader, { id, post: (message) => this.#post(message), watch: (watchId) => this.#watches.get(watchId) })
    this.#lead = { since, status }
    this.#leaders++
    // A copy: a watch refused on the spot removes itself.
    for (const watch of [...this.#watches.values()]) this.#role.watch(watch)
    this.#options.onChange()
  }

  #onControl(message: ControlMessage): void {
    if (this.#closed || !this.#announced) return
    const role = this.#role
    switch (message.type) {
      case 'leader':
        if (message.from === role?.leader) {
          this.#lead.status = message.status
          return this.#options.onChange()
        }
        // Messages of two senders may cross: one from a leader that has since gone must not win it back.
        if (role && !(message.since > this.#lead.since)) return
        return this.#follow(message.from, message.since, message.status)
      case 'resign':
        if (!role || message.from !== role.leader) return
        role.close()
        this.#role = null
        return this.#options.onChange()
      case 'hello':
        if (this.leading) this.#announce()
        return
      default:
        if (message.to === this.#id && role?.kind === 'leader') role.onRequest(message)
    }
  }

  /** Events from the leader, for our watches. */
  #onEvents(message: EventsMessage): void {
    const role = this.#role
    if (!this.#closed && role?.kind === 'follower' && message.from === role.leader) role.deliver(message.events)
  }
}

/**
 * Milliseconds since the epoch, comparable between tabs. From the page's time
 * origin and its monotonic clock: a wall clock set back after the page loaded
 * does not move it.
 */
function now(): number {
  const { performance } = globalThis as { performance?: { timeOrigin: number; now(): number } }
  return performance ? performance.timeOrigin + performance.now() : Date.now()
}
