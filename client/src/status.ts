// Where every status the client reports comes from: derived from the state
// it describes, here and nowhere else.
//
// - one connection: from its state (connection/state.ts);
// - several (`multiplex: false`, a stream per path): the worst of theirs;
// - with `shareAcrossTabs`: from what this tab knows of the leading tab's.

import type { ConnectionState } from './connection/state.js'
import type { ConnectionStatus } from './types.js'

const CONNECTING = { first: 'connecting', retry: 'reconnecting', change: 'open' } as const

export function statusOf(state: ConnectionState): ConnectionStatus {
  switch (state.name) {
    case 'idle':
    case 'closed':
      return 'closed'
    case 'connecting':
      return CONNECTING[state.cause]
    case 'open':
      return 'open'
    case 'backoff':
      return 'reconnecting'
  }
}

/** The worst status wins: one stream reconnecting makes the client reconnecting. */
export function combinedStatus(statuses: Iterable<ConnectionStatus>): ConnectionStatus {
  let combined: ConnectionStatus = 'closed'
  for (const status of statuses) {
    if (status === 'reconnecting') return 'reconnecting'
    if (status === 'connecting' || (status === 'open' && combined === 'closed')) combined = status
  }
  return combined
}

/** What a tab knows of the stream its tabs share. */
export interface SharedView {
  /** This tab watches something. */
  watching: boolean
  /** The leading tab's status, as it last announced it; null while no tab is known to lead. */
  leaderStatus: ConnectionStatus | null
  /** Leaders this tab has had (itself included). */
  leaders: number
}

export function sharedStatus({ watching, leaderStatus, leaders }: SharedView): ConnectionStatus {
  if (!watching) return 'closed'
  if (leaderStatus === 'open' || leaderStatus === 'reconnecting') return leaderStatus
  // No leader, or its stream has not answered yet: a connection the first time, then a reconnection.
  return leaders > (leaderStatus === null ? 0 : 1) ? 'reconnecting' : 'connecting'
}

/** The client's: its tab's view of the shared stream when it shares, else its own connections'. */
export function clientStatus(closed: boolean, own: ConnectionStatus, shared: SharedView | null): ConnectionStatus {
  if (closed) return 'closed'
  return shared ? sharedStatus(shared) : own
}
