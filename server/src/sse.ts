// Server-Sent Events framing. A frame is encoded once, on first use, and the
// same bytes go to every subscriber. No field may carry a raw line break: one
// would let a value end its frame early and forge an event of its own.

import { formatEventId } from '@atomkv/client/protocol'

const encoder = new TextEncoder()

const LINE_BREAK = /\r\n|\r|\n/
const FIELD_BREAK = /[\r\n\0]/g
const CRLF = [13, 10] as const

export interface SSEFields {
  /** `null` writes an empty `id:` line, which resets the reader's last event id. */
  id?: string | null
  event?: string
  data: string
}

/**
 * One SSE frame, encoded when first needed and then shared. It is kept as a
 * complete HTTP/1.1 chunk (size line, frame, CRLF), so a stream that writes
 * to a Node socket sends the same bytes to every subscriber without Node
 * framing each write again; {@link bytes} is the bare frame inside it.
 */
export abstract class Frame {
  #chunk: Uint8Array | undefined
  #bytes: Uint8Array | undefined

  /** The frame's text; built only when the frame is first encoded. */
  protected abstract text(): string

  /** The frame as one HTTP/1.1 chunk. */
  get chunk(): Uint8Array {
    if (!this.#chunk) this.#encode()
    return this.#chunk!
  }

  /** The bare frame. */
  get bytes(): Uint8Array {
    if (!this.#bytes) this.#encode()
    return this.#bytes!
  }

  #encode(): void {
    const body = encoder.encode(this.text())
    const head = encoder.encode(`${body.byteLength.toString(16)}\r\n`)
    const chunk = new Uint8Array(head.byteLength + body.byteLength + 2)
    chunk.set(head)
    chunk.set(body, head.byteLength)
    chunk.set(CRLF, head.byteLength + body.byteLength)
    this.#chunk = chunk
    this.#bytes = chunk.subarray(head.byteLength, head.byteLength + body.byteLength)
  }
}

class TextFrame extends Frame {
  readonly #text: string
  constructor(text: string) {
    super()
    this.#text = text
  }
  protected text(): string {
    return this.#text
  }
}

/** The text of one frame. */
export function frameText({ id, event, data }: SSEFields): string {
  let text = ''
  // Keys cannot hold line breaks and events are ours, so stripping never
  // changes a legitimate frame; it only guarantees one frame stays one frame.
  if (id !== undefined) text += `id:${id === null ? '' : id.replace(FIELD_BREAK, '')}\n`
  if (event !== undefined) text += `event:${event.replace(FIELD_BREAK, '')}\n`
  // JSON text from JSON.stringify has no raw line break; a store that hands
  // back pretty-printed JSON still yields one event, as several data lines
  // that the reader joins with "\n" (whitespace to a JSON parser).
  if (!LINE_BREAK.test(data)) return `${text}data:${data}\n\n`
  for (const line of data.split(LINE_BREAK)) text += `data:${line}\n`
  return text + '\n'
}

export function frame(fields: SSEFields): Frame {
  return new TextFrame(frameText(fields))
}

/** The event for one committed write: `id:<key>:<revision>` and the JSON value. */
export function writeFrame(key: string, revision: number, json: string): Frame {
  return frame({ id: formatEventId(key, revision), data: json })
}

/** A comment line: ignored by readers, it pushes the head out and keeps idle connections alive. */
export function comment(text = ''): Frame {
  return new TextFrame(`:${text.replace(FIELD_BREAK, '')}\n\n`)
}

/** `true` when an Accept header lists `text/event-stream` (with any parameters, and q > 0). */
export function acceptsEventStream(accept: string | null | undefined): boolean {
  if (!accept) return false
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';')
    if (type.trim().toLowerCase() !== 'text/event-stream') continue
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='))
    if (q === undefined || Number(q.slice(2)) > 0) return true
  }
  return false
}
