// A store whose snapshot reads wait at a gate, as a remote store's might, so
// a test can land writes between a stream's start and its snapshot. Shared by
// the server's hub tests and the client's handover test.

import { MemoryStore, type Store } from '@atomkv/server'
import { memoryBacked } from './memory-backed.js'

export interface LateSnapshotStore {
  store: Store
  /** Lets the waiting and all later snapshot reads through. */
  release(): void
  /** Shuts the gate again: later reads wait for the next `release()`. */
  hold(): void
  /** Snapshot reads waiting at the gate now. */
  readonly waiting: number
}

/** `memory` (a new MemoryStore unless given) behind a gate, shut at first: `list()` waits until `release()`. */
export function lateSnapshotStore(memory: MemoryStore = new MemoryStore()): LateSnapshotStore {
  let open!: () => void
  let gate: Promise<void> | undefined
  let waiting = 0
  const hold = () => {
    gate = new Promise<void>((resolve) => (open = resolve))
  }
  hold()
  return {
    store: memoryBacked(memory, {
      async list(subscriptions) {
        if (gate) {
          waiting++
          await gate
          waiting--
        }
        return memory.list(subscriptions)
      },
    }),
    release() {
      gate = undefined
      open()
    },
    hold,
    get waiting() {
      return waiting
    },
  }
}
