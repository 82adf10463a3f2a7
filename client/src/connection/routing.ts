// Where a stream's writes go: to the listeners of their key. Each listener
// drops what it already has (listener.ts), which is what makes delivery
// at-most-once and in order per key when streams overlap or repeat.

import { parseEventId } from '../protocol/index.js'
import type { SseEvent } from '../sse.js'
import type { Membership } from './membership.js'
import type { Stream } from './stream.js'

/** A write as read from a stream. */
export interface Frame {
  /** Its event id, a position to resume from (once the stream is live). */
  id: string
  key: string
  value: unknown
  revision: number
}

/** A write event's key, revision and value; `undefined` for anything else. */
export function parseFrame(event: SseEvent): Frame | undefined {
  if (event.type !== 'message' || event.id === undefined) return undefined
  const id = parseEventId(event.id)
  if (!id) return undefined
  try {
    return { id: event.id, key: id.key, revision: id.revision, value: JSON.parse(event.data) }
  } catch {
    return undefined // the server re-serializes every value: this is not an AtomKV event
  }
}

/** Gives a frame of the connection's current stream to the listeners of its key; tells whether one of them is live. */
export function route(members: Membership, stream: Stream, { key, value, revision }: Frame): boolean {
  let followed = false
  for (const listener of members.covering(key)) {
    followed ||= listener.live
    // A steady listener on a stream that could not resume is in a handover: the old stream brings its writes.
    if (listener.steady && stream.phase !== 'live' && !stream.resumed) continue
    listener.receive(key, value, revision)
  }
  return followed
}

/** Gives a write to the live listeners of its key: the old stream of a handover, or a value standing in for one. */
export function write(members: Membership, { key, value, revision }: Frame): void {
  for (const listener of members.covering(key)) listener.write(key, value, revision)
}
