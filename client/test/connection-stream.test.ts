// One stream request on its own (stream.ts): what it reports of the answer,
// its phases, its silence, and that nothing is reported once it is stopped.
// The server's answers are real `Response`s the test writes, on a manual
// clock (as in scripted.ts), so answers no AtomKV server gives can be tried.

import { describe, expect, it } from 'vitest'
import { Stream, StreamIdleError, type StreamRequest } from '../src/connection/stream.js'
import type { SseEvent } from '../src/sse.js'
import { ManualClock, settle } from './scripted.js'

/** An event-stream body the test pushes into. */
function sseBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let cancelled = false
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: () => void (cancelled = true),
  })
  return {
    body,
    send: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
    get cancelled() {
      return cancelled
    },
  }
}

const eventStream = (body: BodyInit | null, headers: Record<string, string> = {}) =>
  new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } })

/** A stream on a manual clock whose answer the test gives, recording what it reports. */
function harness(
  options: { init?: string[]; idleTimeoutMs?: number; onEvent?: (stream: Stream, event: SseEvent) => void } = {},
) {
  const clock = new ManualClock()
  const events: SseEvent[] = []
  const ended: unknown[] = []
  const refused: { error: Error; path: string | undefined }[] = []
  const retries: number[] = []
  let opened = 0
  let opens = 0
  let answer: ((response: Response) => void) | undefined
  const request: StreamRequest = {
    sub: ['/a'],
    init: options.init ?? [],
    lastEventId: null,
    instance: null,
    session: 's',
  }
  const stream = new Stream(request, {
    open: (_request, signal) =>
      new Promise<Response>((resolve, reject) => {
        opens++
        answer = resolve
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true })
      }),
    scheduler: clock,
    idleTimeoutMs: options.idleTimeoutMs ?? 5_000,
    maxEventSize: 1 << 20,
    handlers: {
      opened: () => void opened++,
      event: (s, event) => {
        events.push(event)
        options.onEvent?.(s, event)
      },
      retryHint: (ms) => void retries.push(ms),
      refused: (_s, error, path) => void refused.push({ error, path }),
      ended: (_s, error) => void ended.push(error),
    },
  })
  return {
    clock,
    stream,
    events,
    ended,
    refused,
    retries,
    get opened() {
      return opened
    },
    get opens() {
      return opens
    },
    /** Answers the open request, then lets the stream take the answer in. */
    async answer(response: Response) {
      answer!(response)
      await settle()
    },
  }
}

describe('a stream and its answer', () => {
  it('is not reading and has no opening time until the server answers; then it reads from the time of the answer', async () => {
    const h = harness()
    h.stream.start()
    await settle()
    expect(h.stream.openedAt).toBeNull()
    expect(h.stream.reading).toBe(false)
    await h.clock.advance(1_234)
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    expect(h.opened).toBe(1)
    expect(h.stream.openedAt).toBe(1_234)
    expect(h.stream.reading).toBe(true)
    sse.end()
    await settle()
    expect(h.stream.reading).toBe(false)
    expect(h.stream.openedAt).toBe(1_234)
  })

  it('reports the server ending the stream, once, as an error that says so', async () => {
    const h = harness()
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    sse.end()
    await settle()
    expect(h.ended).toHaveLength(1)
    expect((h.ended[0] as Error).message).toBe('the server ended the stream')
  })

  it.each([
    ['an error status, even as an event stream', new Response('', { status: 503, headers: { 'content-type': 'text/event-stream' } }), 'the stream answered 503'],
    ['an error status without a body', new Response(null, { status: 502 }), 'the stream answered 502'],
    ['another content type', new Response('<html>', { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } }), 'the stream answered "text/html", not text/event-stream'],
    ['no content type', new Response(null, { status: 200 }), 'the stream answered no content-type, not text/event-stream'],
    ['an event stream without a body', eventStream(null), 'the stream answered without a body'],
  ])('ends, unread, on an answer that is no event stream: %s', async (_, response, message) => {
    const h = harness()
    h.stream.start()
    await h.answer(response)
    expect(h.opened).toBe(0)
    expect(h.ended).toHaveLength(1)
    expect((h.ended[0] as Error).message).toBe(message)
    expect(h.stream.reading).toBe(false)
  })

  it('reads an event stream whatever the case and spacing of its content type', async () => {
    const h = harness()
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body, { 'content-type': 'Text/Event-Stream ; charset=utf-8' }))
    expect(h.opened).toBe(1)
    sse.send('data:1\n\n')
    await settle()
    expect(h.events.map((e) => e.data)).toEqual(['1'])
    expect(h.ended).toEqual([])
  })

  it('names the path a 403 refuses, and none when the answer names none or names it badly', async () => {
    const named = harness()
    named.stream.start()
    await named.answer(new Response('{}', { status: 403, headers: { 'x-atomkv-refused': encodeURIComponent('/a b') } }))
    await settle()
    expect(named.refused.map((r) => r.path)).toEqual(['/a b'])

    const unnamed = harness()
    unnamed.stream.start()
    await unnamed.answer(new Response('{}', { status: 403 }))
    await settle()
    expect(unnamed.refused).toHaveLength(1)
    expect(unnamed.refused[0]!.path).toBeUndefined()

    const malformed = harness()
    malformed.stream.start()
    await malformed.answer(new Response('{}', { status: 403, headers: { 'x-atomkv-refused': '%E0%A4%A' } }))
    await settle()
    expect(malformed.refused).toHaveLength(1)
    expect(malformed.refused[0]!.path).toBeUndefined()
  })
})

describe("a stream's phase", () => {
  it('is live from the start when it asked for no snapshot, and stays live through writes', async () => {
    const h = harness()
    expect(h.stream.phase).toBe('live')
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    sse.send('id:/a:1\ndata:1\n\n')
    await settle()
    expect(h.stream.phase).toBe('live')
  })

  it('awaits its snapshot, reads it until ready, and after a reset rebuilds until the next ready', async () => {
    const h = harness({ init: ['/a'] })
    const phases: string[] = [h.stream.phase]
    const sse = sseBody()
    h.stream.start()
    await h.answer(eventStream(sse.body))
    for (const text of ['id:/a:1\ndata:1\n\n', 'event:ready\nid:/a:1\ndata:{}\n\n', 'event:reset\ndata:{}\n\n', 'id:/a:2\ndata:2\n\n', 'event:ready\ndata:{}\n\n']) {
      sse.send(text)
      await settle()
      phases.push(h.stream.phase)
    }
    expect(phases).toEqual(['awaiting-snapshot', 'snapshot', 'live', 'resetting', 'resetting', 'live'])
  })
})

describe('a stopped stream', () => {
  it('says so once: stop() is true the first time only', () => {
    const h = harness()
    expect(h.stream.stopped).toBe(false)
    expect(h.stream.stop()).toBe(true)
    expect(h.stream.stopped).toBe(true)
    expect(h.stream.stop()).toBe(false)
  })

  it('does not open when stopped before it started', async () => {
    const h = harness()
    h.stream.stop()
    h.stream.start()
    await settle()
    expect(h.opens).toBe(0)
  })

  it('reports nothing of an answer that comes after it was stopped, and releases its body', async () => {
    const h = harness()
    h.stream.start()
    await settle()
    const sse = sseBody()
    // The answer is already on its way when the stop comes.
    const response = eventStream(sse.body)
    const answered = h.answer(response)
    h.stream.stop()
    await answered
    await settle()
    expect(h.opened).toBe(0)
    expect(h.ended).toEqual([])
    expect(sse.cancelled).toBe(true)
  })

  it('reports no refusal whose body was still arriving when it was stopped', async () => {
    const h = harness()
    h.stream.start()
    const body = sseBody()
    await h.answer(new Response(body.body, { status: 403, headers: { 'content-type': 'application/json' } }))
    h.stream.stop()
    body.send('{"error":"forbidden"}')
    body.end()
    await settle()
    expect(h.refused).toEqual([])
    expect(h.ended).toEqual([])
  })

  it('reports nothing after stop(): not the rest of the chunk being read, nor a retry hint, nor its end', async () => {
    const h = harness({ onEvent: (stream) => stream.stop() })
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    sse.send('data:1\n\ndata:2\n\nretry:500\n\n')
    await settle()
    await h.clock.advance(60_000)
    expect(h.events.map((e) => e.data)).toEqual(['1'])
    expect(h.retries).toEqual([])
    expect(h.ended).toEqual([])
    expect(h.stream.reading).toBe(false)
  })

  it('passes on the retry hint while reading', async () => {
    const h = harness()
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    sse.send('retry:500\n\n')
    await settle()
    expect(h.retries).toEqual([500])
  })
})

describe('a silent stream', () => {
  it('is given up after idleTimeoutMs without a byte, reported once as a StreamIdleError', async () => {
    const h = harness({ idleTimeoutMs: 5_000 })
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    await h.clock.advance(3_000)
    sse.send(':keep-alive\n\n')
    await h.clock.advance(4_000)
    expect(h.ended).toEqual([])
    await h.clock.advance(1_000)
    expect(h.ended).toHaveLength(1)
    const error = h.ended[0] as Error
    expect(error).toBeInstanceOf(StreamIdleError)
    expect(error.name).toBe('StreamIdleError')
    expect(error.message).toBe('no byte for 5000 ms')
    expect(h.stream.reading).toBe(false)
    // The read it aborted ends too, without a second report.
    await h.clock.advance(60_000)
    expect(h.ended).toHaveLength(1)
  })

  it('is kept for ever when idleTimeoutMs is 0', async () => {
    const h = harness({ idleTimeoutMs: 0 })
    h.stream.start()
    const sse = sseBody()
    await h.answer(eventStream(sse.body))
    await h.clock.advance(600_000)
    expect(h.ended).toEqual([])
    expect(h.stream.reading).toBe(true)
  })
})
