// The states of a connection, and what moves it between them. Connection
// makes every transition through #enter; the public status is derived from
// the state by statusOf() (status.ts).
//
//   idle         ─a listener→ connecting (first)
//   connecting   ─the answer→ open       ─a failure→ backoff         ─paths changed→ connecting (same cause)
//   open         ─a failure, silence→ backoff                        ─paths changed→ connecting (change)
//   backoff      ─its delay, wake()→ connecting (retry)
//   connecting, open  ─a refusal (400/404; an event too large, twice)→ connecting (or idle), its listeners failed
//   any          ─no listener left→ idle  ─close()→ closed, for good
//
// On `paths changed` the old stream is abandoned, or handed over (handover.ts).

import type { Timer } from '../scheduler.js'
import type { Stream } from './stream.js'

/**
 * Why a stream is being opened, which is what its status shows meanwhile:
 * `first` since idle (`connecting`), `retry` after a failure
 * (`reconnecting`), `change` of the paths while a stream was open (`open`:
 * nothing was lost, and a handover still reads the old stream). A reopen
 * while connecting keeps the cause it had.
 */
export type OpenCause = 'first' | 'retry' | 'change'

export type ConnectionState =
  /** Nothing subscribed: no stream. */
  | { readonly name: 'idle' }
  /** A stream requested, its answer not yet come. */
  | { readonly name: 'connecting'; readonly stream: Stream; readonly cause: OpenCause }
  /** The stream answered: its events are read. */
  | { readonly name: 'open'; readonly stream: Stream }
  /** A stream failed: the next opens when `timer` fires, or at once on `wake()`. */
  | { readonly name: 'backoff'; readonly timer: Timer }
  /** `close()`d, for good. */
  | { readonly name: 'closed' }

/** The stream a state reads, if any. */
export function streamOf(state: ConnectionState): Stream | null {
  return state.name === 'connecting' || state.name === 'open' ? state.stream : null
}

/** Why a stream opened from `state` opens. */
export function causeOf(state: ConnectionState): OpenCause {
  switch (state.name) {
    case 'connecting':
      return state.cause
    case 'open':
      return 'change'
    case 'backoff':
      return 'retry'
    default:
      return 'first'
  }
}
