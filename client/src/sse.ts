// A Server-Sent Events parser over a fetch body, after the WHATWG "event stream
// interpretation" rules, with two deliberate differences that the AtomKV
// stream needs:
//  - `id` is reported per event (undefined when the event had no `id` field),
//    instead of the spec's sticky "last event ID", so the caller can tell a
//    `ready` without an id from a `ready` with an empty one;
//  - a block with an `event` or `id` field but no `data` is still dispatched
//    (`event:ready` need not carry data).
// A valid `retry:` field is reported as it is read (`onRetry`), as the spec
// has it set the stream's reconnection time: it belongs to no event.
// One event may not grow past `maxEventSize`; a stream that tries is cut.

/** One dispatched event. `data` lines are joined with `\n`. */
export interface SseEvent {
  /** The `event` field, `message` when absent. */
  type: string
  data: string
  /** The `id` field of this event; `undefined` when it had none, `''` when it was empty. */
  id: string | undefined
}

/** A single event passed the parser's size bound. */
export class SseTooLargeError extends Error {
  override name = 'SseTooLargeError'
}

export interface SseParserOptions {
  /** Largest event (its fields plus the line being read), in UTF-16 code units. Default 8 Mi. */
  maxEventSize?: number
  /** A `retry:` field with a valid value: the server's reconnection delay, in ms. */
  onRetry?(ms: number): void
}

export const DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

export class SseParser {
  readonly #onEvent: (event: SseEvent) => void
  readonly #maxEventSize: number
  readonly #onRetry: ((ms: number) => void) | undefined
  readonly #decoder = new TextDecoder('utf-8') // strips a leading BOM, as the spec asks
  #line = '' // the unterminated line so far
  #skipLineFeed = false // the last chunk ended with `\r`: a leading `\n` belongs to it
  #data: string[] = []
  #dataSize = 0
  #type = ''
  #id: string | undefined = undefined
  #hasField = false

  constructor(onEvent: (event: SseEvent) => void, options: SseParserOptions = {}) {
    this.#onEvent = onEvent
    this.#maxEventSize = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE
    this.#onRetry = options.onRetry
  }

  /** Feeds bytes; dispatches every event they complete. Throws `SseTooLargeError` past the bound. */
  push(chunk: Uint8Array): void {
    this.#feed(this.#decoder.decode(chunk, { stream: true }))
  }

  /** The stream ended: an event without its closing blank line is discarded, as the spec says. */
  end(): void {
    this.#feed(this.#decoder.decode())
    this.#line = ''
    this.#clearEvent()
  }

  #feed(text: string): void {
    let start = 0
    if (this.#skipLineFeed && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1
      this.#skipLineFeed = false
    }
    for (;;) {
      const end = nextLineEnd(text, start)
      if (end === -1) break
      const line = this.#line + text.slice(start, end)
      this.#line = ''
      start = end + 1
      if (text.charCodeAt(end) === 13) {
        // `\r\n` is one line end; when the `\n` may be in the next chunk, remember to skip it
        if (start === text.length) this.#skipLineFeed = true
        else if (text.charCodeAt(start) === 10) start++
      }
      this.#processLine(line)
    }
    if (start < text.length) {
      this.#line += text.slice(start)
      if (this.#line.length + this.#dataSize > this.#maxEventSize) this.#tooLarge()
    }
  }

  #processLine(line: string): void {
    if (line === '') return this.#dispatch()
    if (line.charCodeAt(0) === 58) return // `:` starts a comment
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'data':
        this.#data.push(value)
        this.#dataSize += value.length + 1
        if (this.#dataSize > this.#maxEventSize) this.#tooLarge()
        this.#hasField = true
        break
      case 'event':
        this.#type = value
        this.#hasField = true
        break
      case 'id':
        if (!value.includes('\0')) {
          this.#id = value
          this.#hasField = true
        }
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.#onRetry?.(Number(value))
        break
      // any other field is ignored, per the spec
    }
  }

  #dispatch(): void {
    if (this.#hasField) {
      const event: SseEvent = {
        type: this.#type || 'message',
        data: this.#data.join('\n'),
        id: this.#id,
      }
      this.#clearEvent()
      this.#onEvent(event)
    } else {
      this.#clearEvent()
    }
  }

  #clearEvent(): void {
    this.#data = []
    this.#dataSize = 0
    this.#type = ''
    this.#id = undefined
    this.#hasField = false
  }

  #tooLarge(): never {
    const size = this.#maxEventSize
    this.#line = ''
    this.#clearEvent()
    throw new SseTooLargeError(`an event longer than ${size} characters`)
  }
}

/** Index of the next `\r` or `\n` at or after `from`, or -1. */
function nextLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || c === 13) return i
  }
  return -1
}

export interface ReadOptions extends SseParserOptions {
  /** Bytes arrived. */
  onChunk?(): void
  /** Stops reading (the body is cancelled), whether or not the body itself heeds the signal. */
  signal?: AbortSignal
}

/**
 * Reads a fetch body to its end through a parser. Resolves when the server ends
 * the stream or `signal` stops it; rejects on a read error or an oversized
 * event (and then cancels the body, so the connection is released).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  options: ReadOptions = {},
): Promise<void> {
  const parser = new SseParser(onEvent, options)
  const reader = body.getReader()
  const cancel = () => void reader.cancel().catch(() => {})
  const { signal } = options
  if (signal?.aborted) cancel()
  signal?.addEventListener('abort', cancel, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || signal?.aborted) break
      options.onChunk?.()
      parser.push(value)
    }
    parser.end()
  } catch (error) {
    cancel()
    throw error
  } finally {
    signal?.removeEventListener('abort', cancel)
  }
}
