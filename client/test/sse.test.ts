import { describe, expect, it } from 'vitest'
import { readEventStream, SseParser, SseTooLargeError, type SseEvent } from '../src/sse.js'

const bytes = (text: string) => new TextEncoder().encode(text)

/** Parses `chunks` fed one by one; `retries` gets the `retry:` values read. */
function parse(chunks: (string | Uint8Array)[], maxEventSize?: number, retries: number[] = []): SseEvent[] {
  const events: SseEvent[] = []
  const parser = new SseParser((event) => events.push(event), { maxEventSize, onRetry: (ms) => retries.push(ms) })
  for (const chunk of chunks) parser.push(typeof chunk === 'string' ? bytes(chunk) : chunk)
  parser.end()
  return events
}

/** Every way of cutting `text` in two. */
function* splits(text: string): Generator<Uint8Array[]> {
  const all = bytes(text)
  for (let i = 0; i <= all.length; i++) yield [all.slice(0, i), all.slice(i)]
}

describe('SSE parser', () => {
  it('reads id, event and data; joins data lines; skips comments', () => {
    const events = parse([':hello\n\nid:/a:1\ndata:{"x":\ndata: 1}\n\nevent:ready\nid:\ndata:{}\n\n'])
    expect(events).toEqual([
      { type: 'message', id: '/a:1', data: '{"x":\n1}' },
      { type: 'ready', id: '', data: '{}' },
    ])
  })

  it('accepts \\n, \\r\\n and \\r line ends, also when cut between \\r and \\n', () => {
    const text = 'id:/a:1\r\ndata:1\r\n\r\nid:/a:2\rdata:2\r\rdata:3\n\n'
    const expected = [
      { type: 'message', id: '/a:1', data: '1' },
      { type: 'message', id: '/a:2', data: '2' },
      { type: 'message', id: undefined, data: '3' },
    ]
    for (const chunks of splits(text)) expect(parse(chunks)).toEqual(expected)
  })

  it('decodes UTF-8 cut anywhere across chunks', () => {
    const text = 'id:/users/zoë/日本:3\ndata:"🎉 zoë"\n\n'
    for (const chunks of splits(text)) {
      expect(parse(chunks)).toEqual([{ type: 'message', id: '/users/zoë/日本:3', data: '"🎉 zoë"' }])
    }
    // one byte at a time
    expect(parse([...bytes(text)].map((b) => new Uint8Array([b])))[0]?.data).toBe('"🎉 zoë"')
  })

  it('follows the field rules: one leading space stripped, no colon means an empty value, unknown fields ignored', () => {
    const retries: number[] = []
    const events = parse(['data:  two spaces\nfoo:bar\ndata\nretry:1500\nretry:x\nretry:-1\n\n'], undefined, retries)
    expect(events).toEqual([{ type: 'message', id: undefined, data: ' two spaces\n' }])
    expect(retries).toEqual([1500])
  })

  it('reports retry: as it is read, also in a block that dispatches no event', () => {
    const retries: number[] = []
    expect(parse(['retry:3000\n\n:comment\nretry: 250\n\n'], undefined, retries)).toEqual([])
    expect(retries).toEqual([3000, 250])
  })

  it('reports the id per event (not the sticky last id) and an event without data', () => {
    const events = parse(['id:/a:1\ndata:1\n\nevent:ready\n\ndata:2\n\n'])
    expect(events.map((e) => [e.type, e.id])).toEqual([
      ['message', '/a:1'],
      ['ready', undefined],
      ['message', undefined],
    ])
  })

  it('ignores an id holding NUL, strips a BOM, and drops an unterminated event at the end', () => {
    expect(parse(['\uFEFFid:a\0b\ndata:1\n\ndata:cut'])).toEqual([
      { type: 'message', id: undefined, data: '1' },
    ])
  })

  it('throws past the size bound, for long data and for one endless line', () => {
    expect(() => parse(['data:' + 'x'.repeat(100) + '\n\n'], 64)).toThrow(SseTooLargeError)
    expect(() => parse(['data:' + 'x'.repeat(40), 'x'.repeat(40)], 64)).toThrow(SseTooLargeError)
    expect(() => parse(['data:' + 'x'.repeat(20) + '\n'.repeat(1), 'data:' + 'y'.repeat(50) + '\n\n'], 64)).toThrow(
      SseTooLargeError,
    )
    // many small events never add up
    expect(parse(Array.from({ length: 100 }, () => 'data:' + 'x'.repeat(40) + '\n\n'), 64)).toHaveLength(100)
  })

  it('reads a ReadableStream to its end, and cancels it when an event is too large', async () => {
    const events: SseEvent[] = []
    const body = new Blob(['data:1\n\n', 'data:2\n\n']).stream()
    await readEventStream(body, (e) => events.push(e))
    expect(events.map((e) => e.data)).toEqual(['1', '2'])

    let cancelled = false
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(bytes('data:' + 'x'.repeat(1000) + '\n')),
      cancel: () => void (cancelled = true),
    })
    await expect(readEventStream(endless, () => {}, { maxEventSize: 10_000 })).rejects.toThrow(SseTooLargeError)
    expect(cancelled).toBe(true)
  })
})
