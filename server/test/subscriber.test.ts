// One stream's queue and states on their own, with a sink the test drives:
// the orders and edges (a sink that stops taking, a close racing a snapshot)
// that a real socket only reaches by chance.

import { describe, expect, it } from 'vitest'
import { BacklogEvent } from '../src/backlog.js'
import type { Sink } from '../src/sink.js'
import { comment, frame, type Frame } from '../src/sse.js'
import { Subscriber, type SubscriberHost } from '../src/subscriber.js'

const text = (f: Frame) => new TextDecoder().decode(f.bytes)

/** A sink that takes frames while `writable` is set, and records everything. */
class TestSink implements Sink {
  buffered = 0
  writable = true
  readonly written: string[] = []
  /** How many writes (one per `write`, one per `writeAll`) the sink took. */
  writes = 0
  ended = 0
  aborted: Error | undefined

  write(f: Frame): void {
    this.writes++
    this.written.push(text(f))
  }
  writeAll(frames: readonly Frame[]): void {
    this.writes++
    for (const f of frames) this.written.push(text(f))
  }
  end(): void {
    this.ended++
  }
  abort(reason: Error): void {
    this.aborted = reason
  }
}

function host() {
  const calls: string[] = []
  const failures: unknown[] = []
  const value: SubscriberHost = {
    retiring: (s) => calls.push(`retiring #${s.id}`),
    detach: (s) => calls.push(`detach #${s.id}`),
    failed: (s, error) => {
      calls.push(`failed #${s.id}`)
      failures.push(error)
    },
  }
  return { calls, failures, host: value }
}

let seq = 1
const event = (key: string, revision: number, json = '1') => new BacklogEvent(seq++, key, revision, json)
const OK = ':ok\n\n'

function live(maxQueueBytes = 1 << 20, subscriptions = ['/k']) {
  const h = host()
  const subscriber = new Subscriber(1, subscriptions, '127.0.0.1', maxQueueBytes, h.host)
  const sink = new TestSink()
  subscriber.attach(sink)
  subscriber.begin([])
  return { ...h, subscriber, sink }
}

describe('Subscriber', () => {
  it('names itself for logs: its id, its client, and its first three subscriptions', () => {
    const { host: h } = host()
    expect(new Subscriber(3, ['/a', '/b/', '/c', '/d', '/e'], '10.0.0.1', 100, h).label).toBe(
      'stream #3 from 10.0.0.1 (/a /b/ /c and 2 more)',
    )
    expect(new Subscriber(4, ['/a', '/b/', '/c'], undefined, 100, h).label).toBe('stream #4 (/a /b/ /c)')
    expect(new Subscriber(5, ['/a'], '::1', 100, h).label).toBe('stream #5 from ::1 (/a)')
  })

  it('holds nothing before a sink is attached, and nothing once closed, whatever its sink still buffers', () => {
    const { host: h } = host()
    const subscriber = new Subscriber(1, ['/k'], undefined, 1 << 20, h)
    expect(subscriber.queuedBytes).toBe(0)
    const sink = new TestSink()
    sink.writable = false
    sink.buffered = 500
    subscriber.attach(sink)
    subscriber.begin([])
    expect(subscriber.push(event('/k', 0))).toBe(true)
    expect(subscriber.queuedBytes).toBeGreaterThan(500)
    subscriber.gone()
    expect(subscriber.queuedBytes).toBe(0)
  })

  it('sends a heartbeat comment at its first beat when idle, and none at a beat after an event', () => {
    const { subscriber, sink } = live()
    expect(sink.written).toEqual([OK])
    expect(subscriber.heartbeat()).toBe(true)
    expect(sink.written).toEqual([OK, ':\n\n'])
    subscriber.push(event('/k', 0))
    expect(subscriber.heartbeat()).toBe(true)
    expect(sink.written).toHaveLength(3)
    expect(subscriber.heartbeat()).toBe(true)
    expect(sink.written.at(-1)).toBe(':\n\n')
  })

  it('begins once: a second opening is ignored', () => {
    const { subscriber, sink } = live()
    subscriber.begin([frame({ event: 'ready', data: '{}' })])
    expect(sink.written).toEqual([OK])
  })

  it('sends nothing of an opening that comes after it closed (a snapshot read after the reader left)', () => {
    const { host: h, calls } = host()
    const subscriber = new Subscriber(1, ['/k'], undefined, 1 << 20, h)
    const sink = new TestSink()
    subscriber.attach(sink)
    subscriber.gone()
    const written = sink.written.length
    subscriber.begin([frame({ event: 'ready', data: '{}' })])
    expect(sink.written).toHaveLength(written)
    expect(subscriber.push(event('/k', 0))).toBe(true)
    expect(sink.written).toHaveLength(written)
    expect(subscriber.firstQueuedRevisions().size).toBe(0)
    expect(calls).toEqual(['detach #1'])
  })

  it('names, for each key with events queued while opening, the revision of its first one', () => {
    const { host: h } = host()
    const subscriber = new Subscriber(1, ['/'], undefined, 1 << 20, h)
    subscriber.push(event('/a', 3))
    subscriber.push(comment())
    subscriber.push(event('/b', 7))
    subscriber.push(event('/a', 4))
    expect([...subscriber.firstQueuedRevisions()]).toEqual([
      ['/a', 3],
      ['/b', 7],
    ])
  })

  it('takes a heartbeat calmly once retiring: it neither queues it nor asks to be cut off', () => {
    const { subscriber, sink, calls } = live()
    sink.writable = false
    subscriber.push(event('/k', 0))
    subscriber.retire()
    expect(calls).toEqual(['retiring #1'])
    expect(subscriber.heartbeat()).toBe(true)
    expect(subscriber.push(event('/k', 1))).toBe(true)
    sink.writable = true
    subscriber.writable()
    expect(sink.written.slice(1).map((s) => s.split('\n')[0])).toEqual(['id:/k:0'])
    expect(sink.ended).toBe(1)
    // The sink asks for more while it ends: it is told to end once.
    subscriber.writable()
    expect(sink.ended).toBe(1)
  })

  it('queues while its sink is full and sends in order once it takes more', () => {
    const { subscriber, sink } = live()
    sink.writable = false
    subscriber.push(event('/k', 0))
    sink.writable = true
    // Writable again, but something is queued: a new event waits behind it.
    subscriber.push(event('/k', 1))
    expect(sink.written).toEqual([OK])
    expect(subscriber.queuedBytes).toBeGreaterThan(0)
    subscriber.writable()
    expect(sink.written.slice(1).map((s) => s.split('\n')[0])).toEqual(['id:/k:0', 'id:/k:1'])
    expect(subscriber.queuedBytes).toBe(0)
    subscriber.push(event('/k', 2))
    expect(sink.written.at(-1)).toMatch(/^id:\/k:2\n/)
  })

  it("refuses an event that would take what it holds, its sink's bytes included, past the bound", () => {
    const size = event('/k', 0).bytes.byteLength
    const { subscriber, sink } = live(100 + size)
    sink.writable = false
    sink.buffered = 100
    // Exactly at the bound: taken.
    expect(subscriber.push(event('/k', 0))).toBe(true)
    expect(subscriber.push(event('/k', 1))).toBe(false)
    expect(subscriber.queuedBytes).toBe(100 + size)
    // Refused while the sink alone holds too much.
    const full = live(100)
    full.sink.writable = false
    full.sink.buffered = 90
    expect(full.subscriber.push(event('/k', 0))).toBe(false)
    expect(full.subscriber.queuedBytes).toBe(90)
  })

  it('takes a lone event larger than the bound when it holds nothing', () => {
    const { subscriber, sink } = live(10)
    sink.writable = false
    expect(subscriber.push(event('/k', 0, JSON.stringify('x'.repeat(100))))).toBe(true)
    expect(subscriber.push(event('/k', 1))).toBe(false)
  })

  it('ends once, and ends or aborts without a sink', () => {
    const { subscriber, sink, calls } = live()
    subscriber.end()
    subscriber.end()
    subscriber.abort(new Error('late'))
    expect(sink.ended).toBe(1)
    expect(sink.aborted).toBeUndefined()
    expect(calls).toEqual(['detach #1'])
    for (const close of ['end', 'abort'] as const) {
      const h = host()
      const unattached = new Subscriber(2, ['/k'], undefined, 100, h.host)
      if (close === 'end') unattached.end()
      else unattached.abort(new Error('cut'))
      expect(h.calls).toEqual(['detach #2'])
    }
  })

  it('ends at once when retired before its opening is sent, and retires only once when live', () => {
    for (const begun of [false, true]) {
      const h = host()
      const subscriber = new Subscriber(1, ['/k'], undefined, 1 << 20, h.host)
      const sink = new TestSink()
      sink.writable = false
      subscriber.attach(sink)
      // Replaying: its opening is not sent, the sink takes nothing yet.
      if (begun) subscriber.begin([frame({ event: 'ready', data: '{}' })])
      subscriber.retire()
      expect(h.calls).toEqual(['detach #1'])
      expect(sink.ended).toBe(1)
    }
    const { subscriber, calls } = live()
    subscriber.retire()
    subscriber.retire()
    subscriber.gone()
    subscriber.retire()
    expect(calls).toEqual(['retiring #1', 'detach #1'])
  })

  it('does not re-enter when its sink asks for more from inside a write', () => {
    const { host: h } = host()
    const subscriber = new Subscriber(1, ['/k'], undefined, 1 << 20, h)
    const sink = new TestSink()
    sink.writable = false
    // A sink that says it takes more before it has recorded what it was handed.
    const writeAll = sink.writeAll.bind(sink)
    sink.writeAll = (frames) => {
      subscriber.writable()
      writeAll(frames)
    }
    subscriber.attach(sink)
    subscriber.begin([])
    for (let i = 0; i < 3; i++) subscriber.push(event('/k', i, JSON.stringify('x'.repeat(40_000))))
    sink.writable = true
    subscriber.writable()
    expect(sink.written.map((s) => s.split('\n')[0])).toEqual([':ok', 'id:/k:0', 'id:/k:1', 'id:/k:2'])
  })

  it('joins frames into chunks of about 64 KiB: fewer writes in a burst', () => {
    const { subscriber, sink } = live()
    sink.writable = false
    for (let i = 0; i < 4; i++) subscriber.push(event('/k', i, JSON.stringify('x'.repeat(40_000))))
    const before = sink.writes
    sink.writable = true
    subscriber.writable()
    expect(sink.written).toHaveLength(5)
    // Two frames of 40 kB pass 64 KiB: each write holds two.
    expect(sink.writes - before).toBe(2)
  })

  it('sends nothing more, not even what it took, once its opening fails', () => {
    const calls: string[] = []
    const failures: unknown[] = []
    const subscriber: Subscriber = new Subscriber(1, ['/k'], undefined, 1 << 20, {
      retiring: () => {},
      detach: () => calls.push('detach'),
      failed(s, error) {
        failures.push(error)
        s.abort(error as Error)
      },
    })
    const sink = new TestSink()
    sink.writable = false
    subscriber.attach(sink)
    function* opening() {
      yield frame({ id: '/k:0', data: '1' })
      throw new Error('its resume point left the backlog')
    }
    subscriber.begin(opening())
    sink.writable = true
    subscriber.writable()
    expect(failures).toHaveLength(1)
    expect(sink.aborted?.message).toBe('its resume point left the backlog')
    expect(sink.written).toEqual([])
    expect(calls).toEqual(['detach'])
  })
})

