// The connection's own decisions, stepped by hand on a scripted server (see
// scripted.ts): when it reuses the stream it has, where it resumes from, how
// long it waits before a retry, and whom a refusal or a too-large event ends.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { STABLE_MS } from '../src/connection/retry.js'
import type { WatchEvent } from '../src/types.js'
import { recorded, scriptedConnection, settle } from './scripted.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Jitter at its top: each backoff delay is its ceiling. */
const ceilingJitter = () => vi.spyOn(Math, 'random').mockReturnValue(1 - Number.EPSILON)

const errorOf = (events: WatchEvent[]) => events.find((e) => e.type === 'error')?.error

describe('connection', () => {
  it('counts distinct paths, and refuses listeners once closed', async () => {
    const { clock, connection } = scriptedConnection()
    connection.add(recorded('/a').spec)
    connection.add(recorded('/a').spec)
    const removeB = connection.add(recorded('/b/').spec)
    expect(connection.size).toBe(2)
    removeB()
    expect(connection.size).toBe(1)
    await clock.advance(0)
    connection.close()
    expect(connection.size).toBe(0)
    expect(() => connection.add(recorded('/a').spec)).toThrow('the client is closed')
  })

  it('a listener of a path whose snapshot has not started yet shares it, without a reopen', async () => {
    const { clock, connection, streams } = scriptedConnection()
    const first = recorded('/a/', { initial: true })
    connection.add(first.spec)
    await clock.advance(0)
    streams[0]!.open()
    await settle()
    const second = recorded('/a/', { initial: true })
    connection.add(second.spec)
    await clock.advance(0)
    expect(streams).toHaveLength(1)
    streams[0]!.write('/a/x', 1).ready('/a/x:1')
    await settle()
    expect(first.types()).toEqual(['/a/x:1', 'ready'])
    expect(second.types()).toEqual(['/a/x:1', 'ready'])
  })

  it('a path added while waiting to retry goes out with the retry, not before', async () => {
    const { clock, connection, streams } = scriptedConnection() // 100 ms doubling to 1 s
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.fail()
    await settle()
    expect(connection.state).toBe('backoff')
    connection.add(recorded('/b').spec)
    await clock.advance(0)
    expect(streams).toHaveLength(1)
    expect(connection.state).toBe('backoff')
    await clock.advance(1_000)
    expect(streams).toHaveLength(2)
    expect(streams[1]!.request).toMatchObject({ init: ['/a', '/b'] })
  })

  it('skips an event that is no write, and reads on', async () => {
    const { clock, connection, streams } = scriptedConnection()
    const a = recorded('/a')
    connection.add(a.spec)
    await clock.advance(0)
    streams[0]!.open().ready('')
    streams[0]!.send('event:news\ndata:{}\n\n').send('id:nonsense\ndata:1\n\n').write('/a', 0)
    await settle()
    expect(connection.state).toBe('open')
    expect(a.types()).toEqual(['ready', '/a:0'])
  })

  it("resumes from the last live write: not from a snapshot's writes, and a ready without an id keeps it", async () => {
    const { clock, connection, streams } = scriptedConnection() // retries within 1 s
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.open().ready('/a:1')
    await settle()
    connection.add(recorded('/b').spec)
    await clock.advance(0)
    expect(streams[1]!.request).toMatchObject({ sub: ['/a'], init: ['/b'], lastEventId: '/a:1' })
    // The new path's snapshot starts, and the stream breaks before its ready.
    streams[1]!.open().write('/b', 5)
    await settle()
    streams[1]!.end()
    await settle()
    await clock.advance(1_000)
    expect(streams[2]!.request).toMatchObject({ lastEventId: '/a:1' })
    // The server resumed from there (a ready with no id), and the stream breaks again.
    streams[2]!.open().write('/b', 5).ready()
    await settle()
    streams[2]!.end()
    await settle()
    await clock.advance(1_000)
    expect(streams[3]!.request).toMatchObject({ lastEventId: '/a:1' })
  })

  it(`starts the backoff over after a stream that lived ${STABLE_MS} ms, not after a short one or none`, async () => {
    ceilingJitter()
    const { clock, connection, streams } = scriptedConnection({ idleTimeoutMs: 0 }) // 100 ms doubling to 1 s
    await clock.advance(2 * STABLE_MS) // the clock is far from zero: no answer must not read as a long life
    connection.add(recorded('/a').spec)
    await clock.advance(0)
    const delays: number[] = []
    const failed = async () => {
      await settle()
      const [delay] = clock.pending()
      delays.push(Math.round(delay!))
      await clock.advance(delay!)
    }
    streams[0]!.fail()
    await failed()
    streams[1]!.fail()
    await failed()
    streams[2]!.open()
    await settle()
    streams[2]!.end() // at once
    await failed()
    streams[3]!.open()
    await clock.advance(STABLE_MS + 1)
    streams[3]!.end()
    await failed()
    expect(delays).toEqual([100, 200, 400, 100])
  })

  describe('an event larger than maxEventSize', () => {
    const big = 'x'.repeat(200)

    it('is met again once: then its subscriptions fail with too-large', async () => {
      const { clock, connection, streams } = scriptedConnection({ maxEventSize: 100 })
      const a = recorded('/a')
      connection.add(a.spec)
      await clock.advance(0)
      streams[0]!.open().write('/a', 0, big) // before any position
      await settle()
      expect(connection.state).toBe('backoff')
      await clock.advance(1_000)
      streams[1]!.open().write('/a', 0, big)
      await settle()
      expect(a.types()).toEqual(['error:too-large'])
      expect(errorOf(a.events)?.message).toMatch(/^the stream sent .+ \(maxEventSize\); raise it above the server's value limit$/)
    })

    it('at a new position is retried again', async () => {
      const { clock, connection, streams } = scriptedConnection({ maxEventSize: 100 })
      const a = recorded('/a')
      connection.add(a.spec)
      await clock.advance(0)
      streams[0]!.open().ready('/a:1').write('/a', 2, big)
      await settle()
      expect(connection.state).toBe('backoff')
      await clock.advance(1_000)
      streams[1]!.open().write('/a', 3).write('/a', 4, big)
      await settle()
      expect(connection.state).toBe('backoff')
      expect(a.types()).toEqual(['ready', '/a:3'])
      await clock.advance(1_000)
      expect(streams[2]!.request).toMatchObject({ lastEventId: '/a:3' })
    })
  })

  it('a refusal naming a path the stream does not carry fails every listener of the stream', async () => {
    const { clock, connection, streams } = scriptedConnection()
    const a = recorded('/a')
    const b = recorded('/b')
    connection.add(a.spec)
    connection.add(b.spec)
    await clock.advance(0)
    streams[0]!.answer(403, 'forbidden', { 'x-atomkv-refused': '/elsewhere' })
    await settle()
    expect(a.types()).toEqual(['error:forbidden'])
    expect(b.types()).toEqual(['error:forbidden'])
    expect(connection.size).toBe(0)
    expect(connection.state).toBe('idle')
  })

  it('close() during a handover stops the old stream and leaves no timer', async () => {
    const { clock, connection, streams } = scriptedConnection()
    const a = recorded('/a')
    connection.add(a.spec)
    await clock.advance(0)
    streams[0]!.open().ready('') // no position: the next reopen hands over
    await settle()
    connection.add(recorded('/b').spec)
    await clock.advance(0)
    expect(streams).toHaveLength(2)
    expect(streams[0]!.cancelled).toBe(false)
    streams[1]!.open()
    await settle()
    connection.close()
    await settle()
    expect(streams.every((stream) => stream.cancelled)).toBe(true)
    expect(clock.pending()).toEqual([])
    expect(a.ended).toBe(true)
  })
  it('stays closed when the last listener a refusal fails closes it', async () => {
    const { clock, connection, statuses, streams } = scriptedConnection()
    const x = recorded('/x', { then: (event) => event.type === 'error' && connection.close() })
    connection.add(x.spec)
    await clock.advance(0)
    streams[0]!.answer(400, 'no')
    await settle()
    expect(x.types()).toEqual(['error:http'])
    expect(connection.state).toBe('closed')
    expect(statuses).toEqual(['connecting', 'closed'])
  })

  it('close() in the tick of several changes leaves no timer', async () => {
    const { clock, connection, streams } = scriptedConnection()
    connection.add(recorded('/a').spec)
    connection.add(recorded('/b').spec)
    connection.add(recorded('/c').spec)()
    connection.close()
    expect(clock.pending()).toEqual([])
    await clock.advance(0)
    expect(streams).toHaveLength(0)
  })

  it('wake() with nothing left to follow rests instead of opening an empty stream', async () => {
    const { clock, connection, streams } = scriptedConnection()
    const remove = connection.add(recorded('/a').spec)
    await clock.advance(0)
    streams[0]!.fail()
    await settle()
    expect(connection.state).toBe('backoff')
    remove()
    connection.wake() // before the removal's tick
    expect(connection.state).toBe('idle')
    await clock.advance(60_000)
    expect(streams).toHaveLength(1)
  })

  describe('a reopen with no position (a handover)', () => {
    /** A live listener of /a on a stream with no position; /b added, so a second stream opens beside it. */
    async function handingOver(then?: (event: WatchEvent) => void) {
      const scripted = scriptedConnection()
      const { clock, connection, streams } = scripted
      const a = recorded('/a', { then })
      connection.add(a.spec)
      await clock.advance(0)
      streams[0]!.open().ready('')
      await settle()
      connection.add(recorded('/b').spec)
      await clock.advance(0)
      expect(streams).toHaveLength(2)
      return { ...scripted, a }
    }

    it('is not started from a stream in the middle of a reset', async () => {
      const { clock, connection, streams } = scriptedConnection()
      connection.add(recorded('/a').spec)
      await clock.advance(0)
      streams[0]!.open().ready('').reset()
      await settle()
      connection.add(recorded('/b').spec)
      await clock.advance(0)
      expect(streams).toHaveLength(2)
      expect(streams[0]!.cancelled).toBe(true)
    })

    it('does not hold what the new stream sends after a reset of its own', async () => {
      const { streams, a } = await handingOver()
      streams[0]!.write('/a', 0)
      streams[1]!.open().write('/a', 1).ready('/a:1') // draining: the old stream owes /a:1
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0'])
      streams[1]!.reset().write('/a', 3)
      await settle()
      expect(a.types()).toEqual(['ready', '/a:0', 'reset', '/a:3'])
    })

    it('holds path changes until it ends', async () => {
      const { clock, connection, streams, a } = await handingOver()
      streams[0]!.write('/a', 0)
      streams[1]!.open().write('/a', 1).ready('/a:1') // draining: the old stream owes /a:1
      await settle()
      connection.add(recorded('/c').spec)
      await clock.advance(0)
      expect(streams).toHaveLength(2)
      streams[0]!.write('/a', 1)
      await clock.advance(0)
      expect(a.types()).toEqual(['ready', '/a:0', '/a:1'])
      expect(streams).toHaveLength(3)
      expect(streams[2]!.request).toMatchObject({ lastEventId: '/a:1' })
    })

    it('outlives a new stream that fails before its ready, and takes the next snapshot instead of its', async () => {
      const { clock, connection, streams } = scriptedConnection()
      const a = recorded('/a/')
      connection.add(a.spec)
      await clock.advance(0)
      streams[0]!.open().ready('')
      await settle()
      connection.add(recorded('/b').spec)
      await clock.advance(0)
      streams[1]!.open().write('/a/x', 1) // x, deleted before the next stream's snapshot
      await settle()
      streams[1]!.end()
      await settle()
      expect(streams[0]!.cancelled).toBe(false) // still the live listener's source
      await clock.advance(1_000)
      expect(streams[2]!.request).toMatchObject({ init: ['/a/', '/b'], lastEventId: null })
      streams[2]!.open().write('/a/y', 1).ready('/a/y:1')
      await settle()
      streams[0]!.write('/a/y', 1) // the old stream has brought all the snapshot holds
      await settle()
      expect(streams[0]!.cancelled).toBe(true)
      expect(a.types()).toEqual(['ready', '/a/y:1'])
    })

    it('leaves no retry behind when a held event closes the client as the new stream fails', async () => {
      let close = () => {}
      const { clock, connection, streams } = await handingOver((event) => {
        if (event.type === 'value' && event.revision === 2) close()
      })
      close = () => connection.close()
      streams[0]!.write('/a', 0)
      streams[1]!.open().write('/a', 1).ready('/a:1')
      streams[1]!.write('/a', 2) // held until the handover ends
      await settle()
      streams[1]!.end()
      await settle()
      expect(connection.state).toBe('closed')
      expect(clock.pending()).toEqual([])
    })
  })
})
