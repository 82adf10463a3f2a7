// A handover on its own (handover.ts): the old stream keeps the live
// listeners fed until they reach the new stream's snapshot, the new stream's
// live events wait meanwhile, and it ends on time whatever happens. Real
// listeners on a manual clock; the connection's part is the `done` callback.

import { describe, expect, it } from 'vitest'
import { Handover } from '../src/connection/handover.js'
import { Membership } from '../src/connection/membership.js'
import type { Frame } from '../src/connection/routing.js'
import { Stream } from '../src/connection/stream.js'
import type { WatchEvent } from '../src/types.js'
import { ManualClock } from './scripted.js'

const frame = (key: string, revision: number): Frame => ({ id: `${key}:${revision}`, key, revision, value: revision })

function setup() {
  const clock = new ManualClock()
  const members = new Membership()
  // The old stream: never opened here, only stopped by the handover.
  const source = new Stream(
    { sub: ['/a'], init: [], lastEventId: null, instance: null, session: 's' },
    {
      open: () => new Promise<Response>(() => {}),
      scheduler: clock,
      idleTimeoutMs: 0,
      maxEventSize: 1 << 20,
      handlers: { opened() {}, event() {}, retryHint() {}, refused() {}, ended() {} },
    },
  )
  let done = 0
  const handover = new Handover(source, members, clock, () => void done++)
  /** A live listener of `path` that has seen `seen` (key → revision); records its values as `key:revision`. */
  const live = (path: string, seen: Record<string, number> = {}) => {
    const events: WatchEvent[] = []
    const listener = members.add({ path, initial: false, fullResync: false, emit: (e) => void events.push(e) })
    listener.startSnapshot()
    for (const [key, revision] of Object.entries(seen)) listener.receive(key, revision, revision)
    listener.ready()
    return {
      listener,
      values: () => events.flatMap((e) => (e.type === 'value' ? [`${e.key}:${e.revision}`] : [])),
    }
  }
  return {
    clock,
    source,
    handover,
    live,
    get done() {
      return done
    },
  }
}

describe('a handover', () => {
  it('reads the snapshot first, then drains until the listeners reach it', () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    expect(h.handover.draining).toBe(false)
    h.handover.record(frame('/a', 2))
    h.handover.drain()
    expect(h.handover.draining).toBe(true)
    expect(h.done).toBe(0)
  })

  it('asks to end at once when the live listeners already have every revision of the snapshot', () => {
    const h = setup()
    h.live('/a', { '/a': 3 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    expect(h.done).toBe(1)
  })

  it('waits for a live listener that never saw the key, even when the snapshot has it at revision 0', () => {
    const h = setup()
    const a = h.live('/a')
    h.handover.record(frame('/a', 0))
    h.handover.drain()
    expect(h.done).toBe(0)
    // Time is up: the listener gets the snapshot's value.
    expect(h.handover.finish()).toEqual([])
    expect(a.values()).toEqual(['/a:0'])
  })

  it("passes the old stream's writes to the live listeners and ends once they reach the snapshot; other events are ignored", () => {
    const h = setup()
    const a = h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.sourceEvent({ type: 'ready', id: '/a:9', data: '{}' })
    h.handover.sourceEvent({ type: 'message', id: '/a:2', data: '2' })
    expect(h.done).toBe(0)
    h.handover.sourceEvent({ type: 'message', id: '/a:3', data: '3' })
    expect(h.done).toBe(1)
    expect(a.values()).toEqual(['/a:2', '/a:3'])
    // Nothing pending: finishing writes no snapshot value again.
    h.handover.finish()
    expect(a.values()).toEqual(['/a:2', '/a:3'])
  })

  it("keeps the snapshot it drains to: values recorded once draining (a reset of the new stream) change nothing owed", () => {
    const h = setup()
    const a = h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.record(frame('/a', 5))
    h.handover.finish()
    expect(a.values()).toEqual(['/a:3'])
  })

  it('asks to end after HANDOVER_MS when the old stream does not bring the listeners up', async () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    await h.clock.advance(1_999)
    expect(h.done).toBe(0)
    await h.clock.advance(1)
    expect(h.done).toBe(1)
  })

  it('asks to end when the old stream ends while draining, but not while the snapshot is still read', () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.sourceEnded()
    expect(h.handover.source).toBeNull()
    expect(h.done).toBe(0)
    h.handover.drain()
    expect(h.done).toBeGreaterThan(0)
  })
})

describe("a handover's held events", () => {
  it('are held only while draining', () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    expect(h.handover.hold(frame('/a', 4))).toBe(false)
    h.handover.drain()
    expect(h.handover.hold(frame('/a', 4))).toBe(true)
    expect(h.handover.hold(frame('/a', 5))).toBe(true)
    expect(h.handover.finish()).toEqual([frame('/a', 4), frame('/a', 5)])
  })

  it('are at most 10 000: the next is refused (the connection then ends the handover)', () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    for (let i = 0; i < 10_000; i++) expect(h.handover.hold(frame('/b', i))).toBe(true)
    expect(h.handover.hold(frame('/b', 10_000))).toBe(false)
    expect(h.handover.finish()).toHaveLength(10_000)
  })

  it("survive a second ready of the same new stream (the drain is not started over)", async () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.hold(frame('/a', 4))
    await h.clock.advance(1_000)
    h.handover.drain()
    await h.clock.advance(1_000)
    expect(h.done).toBe(1) // the first drain's deadline still holds
    expect(h.handover.finish()).toEqual([frame('/a', 4)])
  })

  it('are dropped when the new stream is abandoned', () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.hold(frame('/a', 4))
    h.handover.dropHeld()
    expect(h.handover.finish()).toEqual([])
  })
})

describe('ending a handover', () => {
  it('before the new stream was ready: stops the old stream, applies nothing', () => {
    const h = setup()
    const a = h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    expect(h.handover.finish()).toEqual([])
    expect(a.values()).toEqual([])
    expect(h.source.stopped).toBe(true)
    expect(h.handover.source).toBeNull()
  })

  it('stop() while draining: the old stream stops and the deadline no longer fires', async () => {
    const h = setup()
    h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.stop()
    expect(h.source.stopped).toBe(true)
    await h.clock.advance(10_000)
    expect(h.done).toBe(0)
  })

  it("restart() while draining: back to reading a snapshot, and the old deadline no longer fires", async () => {
    const h = setup()
    const a = h.live('/a', { '/a': 1 })
    h.handover.record(frame('/a', 3))
    h.handover.drain()
    h.handover.restart()
    expect(h.handover.draining).toBe(false)
    await h.clock.advance(10_000)
    expect(h.done).toBe(0)
    // The next stream's snapshot decides what is owed.
    h.handover.record(frame('/a', 5))
    h.handover.drain()
    expect(h.handover.finish()).toEqual([])
    expect(a.values()).toEqual(['/a:5'])
  })
})
