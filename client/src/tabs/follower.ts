// What a following tab does: it sends its watches to the leading tab (a
// tick's changes in one message) and hands the leader's events to them.

import { fromWire, type ControlMessage, type WireEvent } from './messages.js'
import type { RemoteWatch } from './remote-watch.js'
import type { TabRole } from './share.js'

export interface FollowerContext {
  /** This client's id. */
  readonly id: string
  post(message: ControlMessage): void
  /** This client's watch of that id, while it exists. */
  watch(id: number): RemoteWatch | undefined
}

export class FollowerRole implements TabRole {
  readonly kind = 'follower'
  readonly leader: string
  readonly #context: FollowerContext
  /** This tick's changes, sent together at its end. */
  #outgoing: { watch: RemoteWatch[]; unwatch: number[] } | null = null
  #closed = false

  constructor(leader: string, context: FollowerContext) {
    this.leader = leader
    this.#context = context
  }

  watch(watch: RemoteWatch): void {
    watch.resync()
    this.#queue().watch.push(watch)
  }

  unwatch(watch: RemoteWatch): void {
    this.#queue().unwatch.push(watch.id)
  }

  /** This tab's page became visible: the leader should reconnect now if it waits to. */
  wake(): void {
    this.#context.post({ type: 'wake', from: this.#context.id, to: this.leader })
  }

  /** The leader's events for this tab's watches. */
  deliver(events: [id: number, event: WireEvent][]): void {
    for (const [id, event] of events) this.#context.watch(id)?.receive(fromWire(event))
  }

  /** Another tab leads now (it gets every watch anew), or this client closes: nothing queued is sent. */
  close(): void {
    this.#closed = true
  }

  #queue(): { watch: RemoteWatch[]; unwatch: number[] } {
    if (this.#outgoing) return this.#outgoing
    const outgoing: { watch: RemoteWatch[]; unwatch: number[] } = { watch: [], unwatch: [] }
    this.#outgoing = outgoing
    queueMicrotask(() => {
      this.#outgoing = null
      if (this.#closed) return
      const { id: from, post } = this.#context
      // A watch that ended in the tick it began is not sent at all.
      const started = new Set(outgoing.watch.map((watch) => watch.id))
      const ids = outgoing.unwatch.filter((id) => !started.has(id))
      const watches = outgoing.watch
        .filter((watch) => this.#context.watch(watch.id) === watch)
        .map((watch): [number, string] => [watch.id, watch.path])
      if (ids.length > 0) post({ type: 'unwatch', from, to: this.leader, ids })
      if (watches.length > 0) post({ type: 'watch', from, to: this.leader, watches })
    })
    return outgoing
  }
}
