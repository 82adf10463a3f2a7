// The server's own test helpers: a small SSE reader over fetch (its streams
// closed after each test), a logger that keeps what it is told, and plain HTTP
// writes, a raw connection. Servers, clients and waiting are @atomkv/test-support's.

import { connect, type Socket } from 'node:net'
import { waitFor } from '@atomkv/test-support'
import { afterEach } from 'vitest'
import type { Logger } from '../src/index.js'

const streams: SSEClient[] = []

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close()
})

export interface CapturingLogger extends Logger {
  readonly warnings: string[]
  readonly errors: string[]
}

export function capturingLogger(): CapturingLogger {
  const warnings: string[] = []
  const errors: string[] = []
  return {
    warnings,
    errors,
    warn: (message) => void warnings.push(message),
    error: (message) => void errors.push(message),
  }
}

export async function post(base: string, key: string, value: unknown): Promise<Response> {
  return fetch(base + encodeKey(key), { method: 'POST', body: JSON.stringify(value) })
}

export async function put(
  base: string,
  key: string,
  value: unknown,
  revision: number | string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(base + encodeKey(key), {
    method: 'PUT',
    body: JSON.stringify(value),
    headers: { 'x-revision': String(revision), ...headers },
  })
}

/** A raw connection that collects what it receives as text. */
export function rawConnection(port: number): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1')
  socket.setEncoding('latin1')
  let text = ''
  socket.on('data', (chunk: string) => (text += chunk))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, received: () => text, closed }
}

/** Percent-encodes each component; the slashes stay. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/')
}

/** Resolves to the new revision. */
export async function set(base: string, key: string, value: unknown): Promise<number> {
  const response = await post(base, key, value)
  if (response.status !== 200) throw new Error(`POST ${key}: ${response.status} ${await response.text()}`)
  return Number(response.headers.get('x-revision'))
}

/** One frame as read: `id` is `undefined` when the frame had no id line, `''` for an empty one. */
export interface SSEEvent {
  id: string | undefined
  event: string | undefined
  data: string
}

/** A write event, split from its id. */
export interface WriteEvent {
  key: string
  revision: number
  value: unknown
}

/** Reads a `text/event-stream` response body frame by frame, as an EventSource would. */
export class SSEClient {
  readonly events: SSEEvent[] = []
  readonly comments: string[] = []
  /** Everything received, as text. */
  raw = ''
  ended = false
  error: unknown
  readonly response: Response
  readonly #abort: AbortController
  #buffer = ''
  #data: string[] = []
  #id: string | undefined
  #event: string | undefined

  private constructor(response: Response, abort: AbortController) {
    this.response = response
    this.#abort = abort
    void this.#read()
  }

  /** Opens a stream; resolves once the response head has arrived. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SSEClient> {
    const abort = new AbortController()
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`)
    const client = new SSEClient(response, abort)
    streams.push(client)
    return client
  }

  /** Drops the connection. */
  close(): void {
    this.#abort.abort()
  }

  /** The write events (frames without an event type), split into key, revision and value. */
  writes(): WriteEvent[] {
    return this.events.filter((e) => e.event === undefined).map(toWrite)
  }

  /** The id of the last frame that carried one, as EventSource's lastEventId would be. */
  lastEventId(): string | undefined {
    return this.events.findLast((e) => e.id !== undefined)?.id
  }

  async waitForEvents(count: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.events.length >= count || this.ended, `${count} events`, timeoutMs)
    if (this.events.length < count) throw new Error(`stream ended after ${this.events.length} of ${count} events`)
  }

  async waitForWrites(count: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.writes().length >= count || this.ended, `${count} write events`, timeoutMs)
    if (this.writes().length < count) throw new Error(`stream ended after ${this.writes().length} of ${count} writes`)
  }

  async #read(): Promise<void> {
    const reader = this.response.body!.getReader()
    const decoder = new TextDecoder()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        const text = decoder.decode(value, { stream: true })
        this.raw += text
        this.#feed(text)
      }
    } catch (error) {
      this.error = error
    } finally {
      this.ended = true
    }
  }

  #feed(text: string): void {
    const lines = (this.#buffer + text).split(/\r\n|\r|\n/)
    this.#buffer = lines.pop()!
    for (const line of lines) this.#line(line)
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.events.push({ id: this.#id, event: this.#event, data: this.#data.join('\n') })
      this.#data = []
      this.#id = undefined
      this.#event = undefined
      return
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1))
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'id') this.#id = value
    else if (field === 'event') this.#event = value
  }
}

export function toWrite(event: SSEEvent): WriteEvent {
  const id = event.id ?? ''
  const colon = id.lastIndexOf(':')
  return { key: id.slice(0, colon), revision: Number(id.slice(colon + 1)), value: JSON.parse(event.data) }
}

/** The revisions of `key` among `writes`, in arrival order. */
export function revisionsOf(writes: readonly WriteEvent[], key: string): number[] {
  return writes.filter((w) => w.key === key).map((w) => w.revision)
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}
