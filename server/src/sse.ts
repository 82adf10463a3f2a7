// Server-Sent Events framing. Every frame is encoded once and the same bytes go
// to every subscriber. No field may carry a raw line break: one would let a
// value end its frame early and forge an event of its own.

const encoder = new TextEncoder()

const LINE_BREAK = /\r\n|\r|\n/
const FIELD_BREAK = /[\r\n\0]/g

export interface SSEFrame {
  /** `null` writes an empty `id:` line, which resets the reader's last event id. */
  id?: string | null
  event?: string
  data: string
}

/** One SSE frame, as bytes. */
export function encodeFrame({ id, event, data }: SSEFrame): Uint8Array {
  let text = ''
  // Keys cannot hold line breaks and events are ours, so stripping never
  // changes a legitimate frame; it only guarantees one frame stays one frame.
  if (id !== undefined) text += `id:${id === null ? '' : id.replace(FIELD_BREAK, '')}\n`
  if (event !== undefined) text += `event:${event.replace(FIELD_BREAK, '')}\n`
  // JSON text from JSON.stringify has no raw line break; a store that hands
  // back pretty-printed JSON still yields one event, as several data lines
  // that the reader joins with "\n" (whitespace to a JSON parser).
  for (const line of data.split(LINE_BREAK)) text += `data:${line}\n`
  return encoder.encode(text + '\n')
}

/** The event for one committed write: `id:<key>:<revision>` and the JSON value. */
export function encodeWrite(key: string, revision: number, json: string): Uint8Array {
  return encodeFrame({ id: eventId(key, revision), data: json })
}

export function eventId(key: string, revision: number): string {
  return `${key}:${revision}`
}

/** A comment line: ignored by readers, it pushes the head out and keeps idle connections alive. */
export function encodeComment(text = ''): Uint8Array {
  return encoder.encode(`:${text.replace(FIELD_BREAK, '')}\n\n`)
}

/** `true` when an Accept header lists `text/event-stream` (with any parameters, and q > 0). */
export function acceptsEventStream(accept: string | null): boolean {
  if (!accept) return false
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';')
    if (type.trim().toLowerCase() !== 'text/event-stream') continue
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='))
    if (q === undefined || Number(q.slice(2)) > 0) return true
  }
  return false
}
