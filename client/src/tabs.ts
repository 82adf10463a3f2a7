// `shareAcrossTabs`: one event stream for every tab of a browser.
//
// Of the clients of one service URL in a browser (one per tab, usually), the
// one holding the Web Lock `atomkv/1:<url>` leads: its own connection carries
// the watches of every client. The others follow: they send their watches to
// the leader over the BroadcastChannel `atomkv/1:<url>` and get the events back
// on a channel of their own, `atomkv/1:<url>#<client id>`, so no tab decodes the
// events of another. The browser hands the lock to the next client in line
// when the leader closes, its tab goes away or crashes.
//
// Every watch is forwarded as `initial` and `fullResync`, whatever its caller
// asked: a client-side proxy then applies the same rules as the connection
// does to its own listeners (see listener.ts). That is what makes a change of
// leader lose nothing: the new leader opens a new stream, and the snapshot it
// gets for every watch is compared, revision by revision, with what each
// proxy has seen. Writes made while no tab led arrive as the values that
// changed; nothing is delivered twice.
//
// A client that vanishes without a word releases its locks with its tab. The
// leader waits for each follower's own lock (`atomkv/1:<url>#<client id>`):
// getting it means the follower is gone, and its watches are dropped.

import { AtomKVError, type AtomKVErrorCode } from './errors.js'
import { Listener, type ListenerSpec } from './listener.js'
import { randomId } from './random-id.js'
import type { ConnectionStatus, WatchEvent } from './types.js'

/**
 * Names the messages below. Tabs of different versions of an app (an old tab
 * still open after a deploy) share only if they speak the same messages:
 * change it with them.
 */
const PROTOCOL = 'atomkv/1'

/** The two browser APIs sharing needs; the globals in a browser. */
export interface TabEnvironment {
  locks: {
    request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>
  }
  BroadcastChannel: new (name: string) => Channel
}

interface Channel {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: MessageEvent) => void) | null
}

/** The browser's, when it has both (Web Locks exist only in secure contexts: https, localhost). */
export function browserTabEnvironment(): TabEnvironment | null {
  const locks = (globalThis as { navigator?: { locks?: TabEnvironment['locks'] } }).navigator?.locks
  const BroadcastChannel = (globalThis as { BroadcastChannel?: TabEnvironment['BroadcastChannel'] }).BroadcastChannel
  return locks && BroadcastChannel ? { locks, BroadcastChannel } : null
}

/** An error as it crosses a channel: structured cloning keeps neither its class nor its code. */
interface WireError {
  message: string
  code: AtomKVErrorCode
  status: number | undefined
  key: string | undefined
}

type WireEvent = Exclude<WatchEvent, { type: 'error' }> | { type: 'error'; error: WireError }

/** On the shared channel. `to` names the leader a follower means; a message for another is ignored. */
type ControlMessage =
  | { t: 'hello'; from: string }
  | { t: 'leader'; from: string; since: number; status: ConnectionStatus }
  | { t: 'resign'; from: string }
  | { t: 'watch'; from: string; to: string; watches: [id: number, path: string][] }
  | { t: 'unwatch'; from: string; to: string; ids: number[] }
  | { t: 'wake'; from: string; to: string }

/** On a follower's own channel. */
interface EventsMessage {
  t: 'events'
  from: string
  events: [id: number, event: WireEvent][]
}

export interface TabShareOptions {
  /** The service's base URL: clients of the same one share. */
  url: string
  env: TabEnvironment
  /** Puts a listener on this client's own connection (used while leading). May throw. */
  attach(spec: ListenerSpec): () => void
  /** Reconnect now if waiting to (a follower's page became visible). */
  wake(): void
  /** `status` changed. */
  onChange(): void
}

/** A follower's watches, as the leader holds them. */
interface Follower {
  watches: Map<number, () => void>
  inbox: Channel
  /** Gives up waiting for the follower's lock. */
  monitor: AbortController
}

export class TabShare {
  readonly #id = randomId()
  readonly #options: TabShareOptions
  readonly #name: string
  readonly #control: Channel
  readonly #inbox: Channel
  readonly #proxies = new Map<number, Proxy>()
  #nextId = 0
  /** The leading client's id (maybe this one's), once known. */
  #leader: string | null = null
  /** When the latest leader we know of took the lock: an older one's late message must not win it back. */
  #leaderSince = -Infinity
  #leaderStatus: ConnectionStatus = 'closed'
  /** Leaders followed so far: after the first, a new stream is a reconnection. */
  #leaders = 0
  /** Our own lock is held: other clients may now hear from us. */
  #announced = false
  #closed = false
  /** Lets go of both locks, and of the wait for them. */
  readonly #lifetime = new AbortController()
  #releaseLocks!: () => void
  // Follower side: watches to send, in one message per tick.
  #outgoing: { watch: [number, string][]; unwatch: number[] } | null = null
  // Leader side.
  readonly #followers = new Map<string, Follower>()
  #outbox: Map<string, [number, WireEvent][]> | null = null
  #connectionStatus: ConnectionStatus = 'closed'

  constructor(options: TabShareOptions) {
    this.#options = options
    this.#name = PROTOCOL + ':' + options.url
    const { BroadcastChannel } = options.env
    this.#control = new BroadcastChannel(this.#name)
    this.#control.onmessage = (event) => this.#onControl(event.data as ControlMessage)
    this.#inbox = new BroadcastChannel(this.#inboxName(this.#id))
    this.#inbox.onmessage = (event) => this.#onEvents(event.data as EventsMessage)
    const released = new Promise<void>((resolve) => (this.#releaseLocks = resolve))
    const { locks } = options.env
    const signal = this.#lifetime.signal
    // Our own lock first: the leader takes it to mean we are alive, so nobody may hear from us before we hold it.
    locks
      .request(this.#inboxName(this.#id), { signal }, () => {
        if (this.#closed) return Promise.resolve()
        this.#announced = true
        this.#post({ t: 'hello', from: this.#id })
        locks.request(this.#name, { signal }, () => this.#lead(released)).catch(ignoreAbort)
        return released
      })
      .catch(ignoreAbort)
  }

  /** The client's status, as the leader's connection has it. */
  get status(): ConnectionStatus {
    if (this.#closed || this.#proxies.size === 0) return 'closed'
    const answered = this.#leaderStatus === 'open' || this.#leaderStatus === 'reconnecting'
    if (this.#leader !== null && answered) return this.#leaderStatus
    // No leader, or its stream has not answered yet: a connection the first time, then a reconnection.
    return this.#leaders > (this.#leader === null ? 0 : 1) ? 'reconnecting' : 'connecting'
  }

  /** Whether this client leads. */
  get leading(): boolean {
    return this.#leader === this.#id
  }

  /** A watch of this client; returns its removal. */
  add(spec: ListenerSpec): () => void {
    if (this.#closed) throw new AtomKVError('the client is closed', { code: 'closed', key: spec.path })
    const proxy = new Proxy(this.#nextId++, spec, () => this.#drop(proxy))
    this.#proxies.set(proxy.id, proxy)
    if (this.#leader !== null) this.#subscribe(proxy)
    if (this.#proxies.size === 1) this.#options.onChange()
    return () => this.#drop(proxy)
  }

  /** The status of this client's own connection: what the others see while it leads. */
  setConnectionStatus(status: ConnectionStatus): void {
    this.#connectionStatus = status
    if (!this.leading || status === this.#leaderStatus) return
    this.#leaderStatus = status
    this.#post({ t: 'leader', from: this.#id, since: this.#leaderSince, status })
  }

  wake(): void {
    if (this.#leader !== null && !this.leading) this.#post({ t: 'wake', from: this.#id, to: this.#leader })
  }

  /** Leaves: the next client in line leads. Watches get `end()`. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.leading) this.#post({ t: 'resign', from: this.#id })
    for (const follower of this.#followers.values()) {
      follower.monitor.abort()
      follower.inbox.close()
    }
    this.#followers.clear()
    this.#releaseLocks()
    this.#lifetime.abort()
    this.#control.close()
    this.#inbox.close()
    const proxies = [...this.#proxies.values()]
    this.#proxies.clear()
    for (const proxy of proxies) proxy.end()
  }

  // --- both sides -----------------------------------------------------------

  #inboxName(id: string): string {
    return this.#name + '#' + id
  }

  #post(message: ControlMessage): void {
    if (!this.#closed || message.t === 'resign') this.#control.postMessage(message)
  }

  /** Sends a watch to the leader, or (leading) puts it on our own connection. */
  #subscribe(proxy: Proxy): void {
    proxy.resync()
    if (this.leading) {
      try {
        proxy.detach = this.#options.attach(forwarded(proxy.spec.path, (event) => proxy.receive(event)))
      } catch (error) {
        proxy.receive({ type: 'error', error: asAtomKVError(error, proxy.spec.path) })
      }
      return
    }
    this.#queue().watch.push([proxy.id, proxy.spec.path])
  }

  #drop(proxy: Proxy): void {
    if (this.#proxies.get(proxy.id) !== proxy) return
    this.#proxies.delete(proxy.id)
    proxy.listener.close()
    if (proxy.detach) {
      proxy.detach()
      proxy.detach = null
    } else if (this.#leader !== null) {
      this.#queue().unwatch.push(proxy.id)
    }
    if (this.#proxies.size === 0) this.#options.onChange()
  }

  /** A follower's changes of one tick, sent together at its end. */
  #queue(): { watch: [number, string][]; unwatch: number[] } {
    if (this.#outgoing) return this.#outgoing
    const outgoing: { watch: [number, string][]; unwatch: number[] } = { watch: [], unwatch: [] }
    this.#outgoing = outgoing
    queueMicrotask(() => {
      // Replaced: a new leader came meanwhile, and got every watch anew.
      if (this.#outgoing !== outgoing) return
      this.#outgoing = null
      const to = this.#leader
      if (to === null || to === this.#id) return
      // A watch that ended in the tick it began is not sent at all.
      const queued = new Set(outgoing.watch.map(([id]) => id))
      const watches = outgoing.watch.filter(([id]) => this.#proxies.has(id))
      const ids = outgoing.unwatch.filter((id) => !queued.has(id))
      if (ids.length > 0) this.#post({ t: 'unwatch', from: this.#id, to, ids })
      if (watches.length > 0) this.#post({ t: 'watch', from: this.#id, to, watches })
    })
    return outgoing
  }

  /** A new leader (maybe us): every watch starts again with it, from what it has seen. */
  #follow(leader: string, since: number, status: ConnectionStatus): void {
    this.#leader = leader
    this.#leaderSince = since
    this.#leaders++
    this.#leaderStatus = status
    this.#outgoing = null
    // A copy: a subscription refused on the spot removes its proxy.
    for (const proxy of [...this.#proxies.values()]) this.#subscribe(proxy)
    this.#options.onChange()
  }

  #onControl(message: ControlMessage): void {
    if (this.#closed || !this.#announced) return
    switch (message.t) {
      case 'leader':
        if (message.from === this.#leader) {
          this.#leaderStatus = message.status
          return this.#options.onChange()
        }
        // Messages of two senders may cross: one from a leader that has since gone must not win it back.
        if (this.#leader !== null && !(message.since > this.#leaderSince)) return
        return this.#follow(message.from, message.since, message.status)
      case 'resign':
        if (message.from !== this.#leader) return
        this.#leader = null
        return this.#options.onChange()
      case 'hello':
        if (this.leading) this.#post({ t: 'leader', from: this.#id, since: this.#leaderSince, status: this.#leaderStatus })
        return
    }
    if (message.to !== this.#id || !this.leading) return
    switch (message.t) {
      case 'watch':
        return this.#onWatch(message.from, message.watches)
      case 'unwatch': {
        const watches = this.#followers.get(message.from)?.watches
        for (const id of message.ids) {
          watches?.get(id)?.()
          watches?.delete(id)
        }
        return
      }
      case 'wake':
        return this.#options.wake()
    }
  }

  /** Events from the leader, for our proxies. */
  #onEvents(message: EventsMessage): void {
    if (this.#closed || message.from !== this.#leader || this.leading) return
    for (const [id, event] of message.events) {
      const proxy = this.#proxies.get(id)
      if (!proxy) continue
      if (event.type !== 'error') proxy.receive(event)
      else proxy.receive({ type: 'error', error: new AtomKVError(event.error.message, event.error) })
    }
  }

  // --- leader side ----------------------------------------------------------

  /** We hold the lock: lead until the client closes. */
  #lead(released: Promise<void>): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#follow(this.#id, now(), this.#connectionStatus)
    this.#post({ t: 'leader', from: this.#id, since: this.#leaderSince, status: this.#leaderStatus })
    return released
  }

  #onWatch(from: string, watches: [number, string][]): void {
    let follower = this.#followers.get(from)
    if (!follower) {
      const created: Follower = {
        watches: new Map(),
        inbox: new this.#options.env.BroadcastChannel(this.#inboxName(from)),
        monitor: new AbortController(),
      }
      follower = created
      this.#followers.set(from, created)
      // Granted once the follower let go of it: closed, or its tab gone.
      this.#options.env.locks
        .request(this.#inboxName(from), { signal: created.monitor.signal }, async () => this.#forget(from, created))
        .catch(ignoreAbort)
    }
    for (const [id, path] of watches) {
      const send = (event: WatchEvent) => this.#send(from, id, event)
      try {
        follower.watches.set(id, this.#options.attach(forwarded(path, send)))
      } catch (error) {
        send({ type: 'error', error: asAtomKVError(error, path) })
      }
    }
  }

  #forget(id: string, follower: Follower): void {
    if (this.#followers.get(id) !== follower) return
    this.#followers.delete(id)
    for (const remove of follower.watches.values()) remove()
    follower.inbox.close()
  }

  /** Queues an event for a follower; a tick's events go in one message. */
  #send(to: string, id: number, event: WatchEvent): void {
    if (event.type === 'error') this.#followers.get(to)?.watches.delete(id) // the connection dropped it
    const wire: WireEvent = event.type === 'error' ? { type: 'error', error: wireError(event.error) } : event
    if (!this.#outbox) {
      const outbox = new Map<string, [number, WireEvent][]>()
      this.#outbox = outbox
      queueMicrotask(() => {
        this.#outbox = null
        for (const [tab, events] of outbox) {
          this.#followers.get(tab)?.inbox.postMessage({ t: 'events', from: this.#id, events } satisfies EventsMessage)
        }
      })
    }
    let events = this.#outbox.get(to)
    if (!events) this.#outbox.set(to, (events = []))
    events.push([id, wire])
  }
}

/**
 * One watch of this client, fed by the leader's forwarded listener. Its
 * `Listener` keeps what it has seen across leaders, so a new leader's
 * snapshot yields only what changed.
 */
class Proxy {
  readonly listener: Listener
  /** The removal from our own connection, while leading. */
  detach: (() => void) | null = null

  constructor(
    readonly id: number,
    readonly spec: ListenerSpec,
    readonly remove: () => void,
  ) {
    this.listener = new Listener(spec)
  }

  /** Subscribed (again, when the leader changed): the leader's snapshot comes first. */
  resync(): void {
    // What was written while no tab led is unknown, and a key may be gone: a reset, as after a server's.
    if (this.listener.live) this.listener.reset()
    else this.listener.startSnapshot()
  }

  receive(event: WatchEvent): void {
    const listener = this.listener
    if (listener.state === 'gone') return
    switch (event.type) {
      case 'value':
        return listener.receive(event.key, event.value, event.revision)
      case 'reset':
        return listener.reset()
      case 'ready':
        return listener.ready()
      case 'error':
        this.remove()
        return listener.fail(event.error)
    }
  }

  /** The client closed. */
  end(): void {
    this.detach?.()
    this.detach = null
    this.listener.end()
  }
}

/** The listener the leader keeps for a watch: always a full snapshot first, for the proxy to compare with. */
function forwarded(path: string, emit: (event: WatchEvent) => void): ListenerSpec {
  return { path, initial: true, fullResync: true, emit }
}

function wireError(error: AtomKVError): WireError {
  return { message: error.message, code: error.code, status: error.status, key: error.key }
}

function asAtomKVError(error: unknown, key: string): AtomKVError {
  if (error instanceof AtomKVError) return error
  return new AtomKVError(error instanceof Error ? error.message : String(error), { code: 'closed', key })
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

function ignoreAbort(error: unknown): void {
  if ((error as { name?: string } | null)?.name !== 'AbortError') throw error
}
