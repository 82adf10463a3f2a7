// What the tabs of one service URL say to each other, and where.
//
// Every name starts with the protocol's version: tabs of different versions
// of an app (an old tab still open after a deploy) share only if they speak
// the same messages. Change it whenever the messages change.

import { AtomKVError, type AtomKVErrorCode } from '../errors.js'
import type { ConnectionStatus, WatchEvent } from '../types.js'

// 3: watch events include `delete`.
export const PROTOCOL = 'atomkv/3'

/**
 * The names of one service URL: `control`, the shared channel and the lock
 * of the leader; `inbox(id)`, a client's own channel (its events) and its own
 * lock (held while it lives).
 */
export interface Names {
  readonly control: string
  inbox(id: string): string
}

export function namesFor(url: string): Names {
  const control = `${PROTOCOL}:${url}`
  return { control, inbox: (id) => `${control}#${id}` }
}

/** A follower's request to the leader it means (`to`); a leader ignores a request for another. */
export type FollowerRequest =
  | { type: 'watch'; from: string; to: string; watches: [id: number, path: string][] }
  | { type: 'unwatch'; from: string; to: string; ids: number[] }
  | { type: 'wake'; from: string; to: string }

/** On the shared channel. */
export type ControlMessage =
  | { type: 'hello'; from: string }
  | { type: 'leader'; from: string; since: number; status: ConnectionStatus }
  | { type: 'resign'; from: string }
  | FollowerRequest

/** On a follower's own channel: a tick's events for its watches. */
export interface EventsMessage {
  type: 'events'
  from: string
  events: [id: number, event: WireEvent][]
}

/** An error as it crosses a channel: structured cloning keeps neither its class nor its code. */
interface WireError {
  message: string
  code: AtomKVErrorCode
  status: number | undefined
  key: string | undefined
}

export type WireEvent = Exclude<WatchEvent, { type: 'error' }> | { type: 'error'; error: WireError }

export function toWire(event: WatchEvent): WireEvent {
  if (event.type !== 'error') return event
  const { message, code, status, key } = event.error
  return { type: 'error', error: { message, code, status, key } }
}

export function fromWire(event: WireEvent): WatchEvent {
  return event.type === 'error' ? { type: 'error', error: new AtomKVError(event.error.message, event.error) } : event
}
