// One watch of this tab, fed by a listener on the leading tab's stream
// (which may be this tab's). That listener always asks for a full snapshot
// first; this watch's own Listener keeps what it has seen across leaders and
// applies the connection's rules to what arrives, so a new leader's snapshot
// yields only what changed and nothing is delivered twice.

import { Listener, type ListenerSpec } from '../listener.js'
import { REMOVED } from '../protocol/index.js'
import type { WatchEvent } from '../types.js'

export class RemoteWatch {
  readonly id: number
  readonly #listener: Listener
  readonly #remove: () => void

  constructor(id: number, spec: ListenerSpec, remove: () => void) {
    this.id = id
    this.#listener = new Listener(spec)
    this.#remove = remove
  }

  get path(): string {
    return this.#listener.path
  }

  /** Put on a leader's stream: its snapshot comes first. */
  resync(): void {
    // After another leader, what was written while no tab led is unknown and a key may be gone: a reset, as after a server's.
    if (this.#listener.live) this.#listener.reset()
    else this.#listener.startSnapshot()
  }

  /** An event of the leader's listener for this watch. */
  receive(event: WatchEvent): void {
    const listener = this.#listener
    if (listener.state === 'gone') return
    switch (event.type) {
      case 'value':
        return listener.receive(event.key, event.value, event.revision)
      case 'delete':
        return listener.receive(event.key, null, REMOVED)
      case 'reset':
        return listener.reset()
      case 'ready':
        return listener.ready()
      case 'error':
        this.#remove()
        return listener.fail(event.error)
    }
  }

  /** Unwatched. */
  close(): void {
    this.#listener.close()
  }

  /** The client closed. */
  end(): void {
    this.#listener.end()
  }
}

/** The listener the leading tab keeps for a watch: always a full snapshot first, for the watch to compare with. */
export function forwarded(path: string, emit: (event: WatchEvent) => void): ListenerSpec {
  return { path, initial: true, fullResync: true, emit }
}
