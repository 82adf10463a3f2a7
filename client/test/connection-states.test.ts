// The connection's state machine, stepped by hand: no network, no real
// timers (see scripted.ts). What the server sends, when time passes and when
// an answer comes are all the test's doing.

import { afterEach, describe, expect, it, vi } from 'vitest'
import type { WatchEvent } from '../src/types.js'
import { recorded, scriptedConnection, settle } from './scripted.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Jitter at its top: each backoff delay is its ceiling. */
const ceilingJitter = () => vi.spyOn(Math, 'random').mockReturnValue(1 - Number.EPSILON)

describe('connection states', () => {
  it('idle → connecting → open: a snapshot, ready, then live writes', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const initial = recorded('/a/', { initial: true })
    const baseline = recorded('/a/')
    connection.add(initial.spec)
    connection.add(baseline.spec)
    expect(connection.state).toBe('idle') // changes are reconciled once per tick
    await clock.advance(0)
    expect(connection.state).toBe('connecting')
    expect(streams).toHaveLength(1)
    expect(streams[0]!.request).toMatchObject({ sub: [], init: ['/a/'], lastEventId: null, instance: null })

    streams[0]!.open({ 'x-atomkv-instance': 'one' })
    await settle()
    expect(connection.state).toBe('open')
    streams[0]!.write('/a/x', 3).write('/a/y', 0).ready('/a/x:3')
    await settle()
    expect(initial.types()).toEqual(['/a/x:3', '/a/y:0', 'ready'])
    expect(baseline.types()).toEqual(['ready']) // its snapshot is a baseline, not news

    streams[0]!.write('/a/x', 4).write('/ab', 0).write('/a/x', 4)
    await settle()
    expect(initial.types()).toEqual(['/a/x:3', '/a/y:0', 'ready', '/a/x:4'])
    expect(baseline.types()).toEqual(['ready', '/a/x:4'])
    expect(statuses).toEqual(['connecting', 'open'])
  })

  it('a reset: listeners are told reset, get the state, then ready; forgotten keys are forgotten', async () => {
    ceilingJitter()
    const { clock, connection, statuses, streams } = scriptedConnection()
    const watcher = recorded('/a/')
    const iterator = recorded('/a/', { fullResync: false })
    connection.add(watcher.spec)
    connection.add(iterator.spec)
    await clock.advance(0)
    streams[0]!.open({ 'x-atomkv-instance': 'one' }).write('/a/x', 1).write('/a/z', 2).ready('/a/z:2')
    streams[0]!.write('/a/x', 2).write('/a/gone', 7)
    await settle()
    streams[0]!.end() // the server goes away
    await settle()
    expect(connection.state).toBe('backoff')
    await clock.advance(100)
    expect(streams[1]!.request).toMatchObject({ sub: ['/a/'], init: [], lastEventId: '/a/gone:7', instance: 'one' })

    // Its position left the backlog: reset, the current state, ready.
    streams[1]!.open({ 'x-atomkv-instance': 'one' }).reset()
    streams[1]!.write('/a/x', 5).write('/a/y', 0).write('/a/z', 2).ready('/a/z:2')
    streams[1]!.write('/a/gone', 0) // expired meanwhile, written anew
    await settle()
    const before = ['ready', '/a/x:2', '/a/gone:7']
    expect(watcher.types()).toEqual([...before, 'reset', '/a/x:5', '/a/y:0', '/a/z:2', 'ready', '/a/gone:0'])
    // An iterator only needs what changed, and is told of each key gone.
    expect(iterator.types()).toEqual([...before, 'reset', '/a/x:5', '/a/y:0', 'delete:/a/gone', 'ready', '/a/gone:0'])
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open'])
  })

  it('a change of paths reopens once per tick, resuming; a listener of a live path joins without one', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const a = recorded('/a')
    connection.add(a.spec)
    await clock.advance(0)
    streams[0]!.open().ready('/a:4')
    await settle()

    const again = recorded('/a')
    connection.add(again.spec) // the path is live: it starts at once
    await clock.advance(0)
    expect(streams).toHaveLength(1)
    expect(again.types()).toEqual(['ready'])

    const b = recorded('/b')
    connection.add(b.spec)
    connection.add(recorded('/c').spec)()
    await clock.advance(0)
    expect(streams).toHaveLength(2)
    expect(streams[0]!.cancelled).toBe(true)
    expect(streams[1]!.request).toMatchObject({ sub: ['/a'], init: ['/b'], lastEventId: '/a:4' })
    // The replay and the new path's snapshot, in the server's order; then ready.
    streams[1]!.open().write('/a', 5).write('/b', 1).write('/a', 5).ready('/a:5')
    streams[1]!.write('/b', 2)
    await settle()
    expect(a.types()).toEqual(['ready', '/a:5'])
    expect(again.types()).toEqual(['ready', '/a:5'])
    expect(b.types()).toEqual(['ready', '/b:2'])
    expect(statuses).toEqual(['connecting', 'open']) // a planned reopen is no reconnection
  })

  describe('a reopen with no position hands over', () => {
    /** A live listener of /a on a stream with no position; /b added, so a second stream opens. */
    async function handingOver(then?: (event: WatchEvent) => void) {
      const scripted = scriptedConnection()
      const { clock, connection, streams } = scripted
      const a = recorded('/a', { then })
      const b = recorded('/b')
      connection.add(a.spec)
      await clock.advance(0)
      streams[0]!.open().ready('') // the server had no event yet
      await settle()
      connection.add(b.spec)
      await clock.advance(0)
      expect(streams).toHaveLength(2)
      expect(streams[0]!.cancelled).toBe(false) // still read
      expect(streams[1]!.request).toMatchObject({ sub: [], init: ['/a', '/b'], lastEventId: null })
      // Writes in flight: the old stream brings /a:0; the new one's snapshot has /a:1 already.
      streams[0]!.write('/a', 0)
      streams[1]!.open().write('/a', 1).ready('/a:1')
      streams[1]!.write('/a', 2).write('/b', 0) // held until the old stream has caught up
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0'])
      return { ...scripted, a, b }
    }

    it('until the old stream has brought what the new snapshot holds', async () => {
      const { streams, a, b, statuses } = await handingOver()
      streams[0]!.write('/a', 1)
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0', '/a:1', '/a:2'])
      expect(b.types()).toEqual(['ready', '/b:0'])
      expect(streams[0]!.cancelled).toBe(true)
      expect(statuses).toEqual(['connecting', 'open'])
    })

    it('or until the old stream ends', async () => {
      const { streams, a } = await handingOver()
      streams[0]!.end()
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0', '/a:1', '/a:2']) // /a:1 from the snapshot
    })

    it('or for at most 2 s', async () => {
      const { clock, streams, a } = await handingOver()
      await clock.advance(1_999)
      expect(a.types()).toEqual(['ready', '/a:0'])
      await clock.advance(1)
      expect(a.types()).toEqual(['ready', '/a:0', '/a:1', '/a:2'])
      expect(streams[0]!.cancelled).toBe(true)
    })

    it('or when the new stream fails; a close() from a callback then stays closed', async () => {
      let close = () => {}
      const { clock, connection, streams, a } = await handingOver((event) => {
        if (event.type === 'value' && event.revision === 2) close()
      })
      close = () => connection.close()
      streams[1]!.end()
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0', '/a:1', '/a:2'])
      expect(connection.state).toBe('closed')
      expect(streams.every((stream) => stream.cancelled)).toBe(true)
      await clock.advance(60_000)
      expect(streams).toHaveLength(2)
      expect(clock.pending()).toEqual([])
    })
  })

  it('retries with backoff: delays double up to the cap, jittered below it, and start over once it works', async () => {
    const random = ceilingJitter()
    const { clock, connection, statuses, streams } = scriptedConnection() // 100 ms doubling to 1 s
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    const delays: number[] = []
    for (let i = 0; i < 6; i++) {
      if (i % 2) streams[i]!.fail() // no answer
      else streams[i]!.answer(503, 'busy')
      await settle()
      expect(connection.state).toBe('backoff')
      const [delay] = clock.pending()
      delays.push(Math.round(delay!))
      await clock.advance(delay! - 1)
      expect(streams).toHaveLength(i + 1)
      await clock.advance(1)
      expect(streams).toHaveLength(i + 2)
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(statuses).toEqual(['connecting', 'reconnecting'])

    // Jitter: anywhere in [0, ceiling].
    random.mockReturnValue(0.25)
    streams[6]!.fail()
    await settle()
    expect(clock.pending()).toEqual([250])
    connection.wake() // the page became visible: at once
    expect(streams).toHaveLength(8)

    streams[7]!.open().ready('/a:0')
    await settle()
    expect(statuses).toEqual(['connecting', 'reconnecting', 'open'])
    random.mockReturnValue(1 - Number.EPSILON)
    streams[7]!.end()
    await settle()
    expect(clock.pending().map(Math.round)).toEqual([100]) // it worked: the backoff starts over
  })

  it('a change of paths while reconnecting keeps the status reconnecting', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.open().ready('/a:0')
    await settle()
    streams[0]!.end()
    await settle()
    await clock.advance(1000) // the backoff's delay: the retry is under way
    expect(streams).toHaveLength(2)
    connection.add(recorded('/b').spec) // before its answer: the retry is reopened with both paths
    await clock.advance(0)
    expect(streams).toHaveLength(3)
    expect(connection.state).toBe('connecting')
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting'])
    streams[2]!.open().ready('/a:0')
    await settle()
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open'])
  })

  it("takes the server's retry: as the backoff's base", async () => {
    ceilingJitter()
    const { clock, connection, streams } = scriptedConnection() // 100 ms doubling to 1 s
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.open().send('retry: 400\n\n').ready('')
    await settle()
    streams[0]!.end()
    await settle()
    expect(clock.pending().map(Math.round)).toEqual([400])
    await clock.advance(400)
    streams[1]!.fail()
    await settle()
    expect(clock.pending().map(Math.round)).toEqual([800])
  })

  it('replaces a stream silent for idleTimeoutMs (a comment counts as life), resuming', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection({ idleTimeoutMs: 5_000 })
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.open().ready('/a:0')
    await clock.advance(4_000)
    streams[0]!.send(':keep-alive\n\n')
    await clock.advance(4_999)
    expect(connection.state).toBe('open')
    await clock.advance(1)
    expect(connection.state).toBe('backoff')
    expect(streams[0]!.cancelled).toBe(true)
    await clock.advance(100)
    expect(streams[1]!.request).toMatchObject({ lastEventId: '/a:0' })
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting'])
  })

  for (const status of [400, 404]) {
    it(`a ${status} refuses its listeners without retrying; a path added since goes on`, async () => {
      const { clock, connection, statuses, streams } = scriptedConnection()
      const x = recorded('/x')
      const y = recorded('/y')
      connection.add(x.spec)
      await clock.advance(0)
      connection.add(y.spec) // after the request
      streams[0]!.answer(status, 'invalid key')
      await settle()
      expect(x.types()).toEqual(['error:http'])
      const error = (x.events[0] as Extract<WatchEvent, { type: 'error' }>).error
      expect(error).toMatchObject({ status, message: 'invalid key' })
      expect(y.types()).toEqual([])
      expect(streams[1]!.request).toMatchObject({ init: ['/y'] })
      streams[1]!.answer(status, 'invalid key')
      await settle()
      expect(y.types()).toEqual(['error:http'])
      expect(connection.state).toBe('idle')
      await clock.advance(60_000)
      expect(streams).toHaveLength(2)
      expect(statuses).toEqual(['connecting', 'closed'])
    })
  }

  it('stays closed when an error callback closes it during a refusal', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const x = recorded('/x', { then: (event) => event.type === 'error' && connection.close() })
    const y = recorded('/y')
    connection.add(x.spec)
    connection.add(y.spec)
    await clock.advance(0)
    streams[0]!.answer(400, 'no')
    await settle()
    expect(x.types()).toEqual(['error:http'])
    expect(y.types()).toEqual([]) // ended by the close, not failed after it
    expect(y.ended).toBe(true)
    expect(connection.state).toBe('closed')
    await clock.advance(60_000)
    expect(streams).toHaveLength(1)
    expect(statuses).toEqual(['connecting', 'closed'])
  })

  it('a 200 that is no event stream (a proxy page) is retried with backoff, never read as events', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const a = recorded('/a')
    connection.add(a.spec)
    await clock.advance(0)
    const page = 'event:ready\nid:\n\nid:/a:7\ndata:"from the page"\n\n'
    streams[0]!.answer(200, page, { 'content-type': 'text/html' })
    await settle()
    expect(connection.state).toBe('backoff')
    await clock.advance(100)
    streams[1]!.answer(200, page) // no content-type at all
    await settle()
    expect(connection.state).toBe('backoff')
    await clock.advance(200)
    streams[2]!.open({ 'content-type': 'text/event-stream; charset=utf-8' }).ready('').write('/a', 0)
    await settle()
    expect(a.types()).toEqual(['ready', '/a:0'])
    expect(statuses).toEqual(['connecting', 'reconnecting', 'open'])
  })

  it('close(): the stream is cancelled, listeners end, no timer is left, later adds throw', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const a = recorded('/a')
    connection.add(a.spec)
    await clock.advance(0)
    streams[0]!.open().ready('/a:0')
    await settle()
    connection.close()
    expect(a.ended).toBe(true)
    expect(streams[0]!.cancelled).toBe(true)
    expect(clock.pending()).toEqual([])
    expect(() => connection.add(recorded('/b').spec)).toThrow(expect.objectContaining({ code: 'closed' }))
    expect(statuses).toEqual(['connecting', 'open', 'closed'])
  })
})
