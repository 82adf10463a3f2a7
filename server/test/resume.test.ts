import { beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/index.js'
import { lateSnapshotStore, startServer, TRANSPORTS, useTransport, waitFor } from '@atomkv/test-support'
import { post, range, revisionsOf, set, SSEClient, type SSEEvent, toWrite } from './helpers.js'

const isWrite = (e: SSEEvent) => e.event === undefined

describe.each(TRANSPORTS)('resuming with Last-Event-ID (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('continues a stream cut mid-burst: nothing missed, nothing twice, in order', async () => {
    const { url } = await startServer()
    const first = await SSEClient.open(`${url}/r/`)
    const total = 600
    const burst = (async () => {
      for (let i = 0; i < total; i++) await set(url, `/r/${i % 3}`, i)
    })()
    await first.waitForWrites(100)
    first.close()
    await waitFor(() => first.ended, 'the first stream to end')
    const lastId = first.lastEventId()!

    // Reopened while the burst goes on: the replay hands over to live events without a gap.
    const second = await SSEClient.open(`${url}/r/`, { 'last-event-id': lastId })
    await burst
    const seen = first.writes().length
    await second.waitForWrites(total - seen)
    expect(second.events.every(isWrite)).toBe(true)
    const values = [...first.writes(), ...second.writes()].map((w) => w.value)
    expect(values).toEqual(range(0, total - 1))
  })

  it('replays only the keys below a prefix, never a sibling that shares its spelling', async () => {
    const { url } = await startServer()
    const from = await set(url, '/p/start', 0)
    for (const key of ['/pq', '/pq/x', '/p', '/p/a', '/px/p/a', '/p/b/c']) await set(url, key, key)
    const stream = await SSEClient.open(`${url}/p/`, { 'last-event-id': `/p/start:${from}` })
    await set(url, '/p/end', 'end')
    await stream.waitForWrites(3)
    expect(stream.writes().map((w) => w.key)).toEqual(['/p/a', '/p/b/c', '/p/end'])
  })

  it('takes the id from the last-event-id query parameter too, on /.stream', async () => {
    const { url } = await startServer()
    await set(url, '/q/a', 'a0')
    await set(url, '/other', 'o0')
    await set(url, '/q/b', 'b0')
    await set(url, '/q/a', 'a1')
    const stream = await SSEClient.open(`${url}/.stream?sub=/q/&last-event-id=${encodeURIComponent('/q/a:0')}`, {
      accept: '*/*',
    })
    await stream.waitForWrites(2)
    await set(url, '/q/c', 'c0')
    await stream.waitForWrites(3)
    expect(stream.events.map((e) => e.id)).toEqual(['/q/b:0', '/q/a:1', '/q/c:0'])
  })

  it('resumes a key stream the same way', async () => {
    const { url } = await startServer()
    for (let i = 0; i < 5; i++) await set(url, '/one', i)
    const stream = await SSEClient.open(`${url}/one`, { 'last-event-id': '/one:2' })
    await stream.waitForWrites(2)
    expect(stream.writes().map((w) => w.revision)).toEqual([3, 4])
  })

  it('with init entries, sends the replay, then the values it did not carry, then ready', async () => {
    const { url } = await startServer()
    await set(url, '/v/c', 'c0')
    await set(url, '/v/a', 'a0') // the resume point
    await set(url, '/v/b', 'b0')
    await set(url, '/w', 'w0')
    await set(url, '/v/a', 'a1')
    const stream = await SSEClient.open(`${url}/.stream?init=/v/&sub=/w`, { 'last-event-id': '/v/a:0' })
    await stream.waitForEvents(5)
    await set(url, '/w', 'w1')
    await stream.waitForEvents(6)
    expect(stream.events).toEqual([
      // The replay first: an id of the snapshot would make a reconnect skip it.
      { id: '/v/b:0', event: undefined, data: '"b0"' },
      { id: '/w:0', event: undefined, data: '"w0"' },
      { id: '/v/a:1', event: undefined, data: '"a1"' },
      // The snapshot, without what the replay sent.
      { id: '/v/c:0', event: undefined, data: '"c0"' },
      { id: '/v/a:1', event: 'ready', data: '{}' },
      { id: '/w:1', event: undefined, data: '"w1"' },
    ])
  })
})

describe.each(TRANSPORTS)('reset (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('tells a stream whose id left the backlog to start over, with the current values', async () => {
    const { url, atomkv } = await startServer({ backlog: { maxEvents: 5 } })
    for (let i = 0; i < 10; i++) {
      await set(url, '/t/a', `a${i}`)
      await set(url, '/t/b', `b${i}`)
    }
    await set(url, '/t/a', 'a10')
    await set(url, '/elsewhere', 'e')
    expect(atomkv.stats().backlog.events).toBe(5)

    const stream = await SSEClient.open(`${url}/t/`, { 'last-event-id': '/t/a:0' })
    await stream.waitForEvents(4)
    await set(url, '/t/b', 'b10')
    await stream.waitForEvents(5)
    expect(stream.events).toEqual([
      { id: undefined, event: 'reset', data: '{"reason":"not-in-backlog"}' },
      // Oldest write first.
      { id: '/t/b:9', event: undefined, data: '"b9"' },
      { id: '/t/a:10', event: undefined, data: '"a10"' },
      // The newest event in the backlog, whatever its key: a valid resume point.
      { id: '/elsewhere:0', event: 'ready', data: '{}' },
      { id: '/t/b:10', event: undefined, data: '"b10"' },
    ])
  })

  it('resets when the id comes from another server instance, though the same id exists here', async () => {
    const { url } = await startServer()
    await set(url, '/v', 'new0') // after a restart, "/v:0" names this write, not the client's
    const head = await fetch(`${url}/v`, { headers: { accept: 'text/event-stream' } })
    const instance = head.headers.get('x-atomkv-instance')
    expect(instance).toMatch(/^[0-9a-f-]{36}$/)
    expect(head.headers.get('access-control-expose-headers')).toContain('X-AtomKV-Instance')
    await head.body?.cancel()

    const same = await SSEClient.open(`${url}/v?instance=${instance}`, { 'last-event-id': '/v:0' })
    await set(url, '/v', 'new1')
    await same.waitForEvents(1)
    expect(same.events).toEqual([{ id: '/v:1', event: undefined, data: '"new1"' }])

    const other = await SSEClient.open(`${url}/v?instance=not-this-one`, { 'last-event-id': '/v:0' })
    await other.waitForEvents(3)
    expect(other.events).toEqual([
      { id: undefined, event: 'reset', data: '{"reason":"server-restarted"}' },
      { id: '/v:1', event: undefined, data: '"new1"' },
      { id: '/v:1', event: 'ready', data: '{}' },
    ])
  })

  it('resets on an unknown or malformed id, and on an id from before a restart', async () => {
    const { url } = await startServer()
    // A fresh server has no events: ready's id is empty, meaning "ask for initial state again".
    const fresh = await SSEClient.open(`${url}/u`, { 'last-event-id': '/u:41' })
    await fresh.waitForEvents(2)
    expect(fresh.events).toEqual([
      { id: undefined, event: 'reset', data: '{"reason":"not-in-backlog"}' },
      { id: '', event: 'ready', data: '{}' },
    ])

    await set(url, '/u', 'now')
    const malformed = await SSEClient.open(`${url}/u`, { 'last-event-id': 'garbage' })
    await malformed.waitForEvents(3)
    expect(malformed.events).toEqual([
      { id: undefined, event: 'reset', data: '{"reason":"malformed-id"}' },
      { id: '/u:0', event: undefined, data: '"now"' },
      { id: '/u:0', event: 'ready', data: '{}' },
    ])
  })

  it('resets every resume when the backlog is disabled', async () => {
    const { url, atomkv } = await startServer({ backlog: { maxEvents: 0 } })
    await set(url, '/d', 1)
    await set(url, '/d', 2)
    expect(atomkv.stats().backlog).toEqual({ events: 0, bytes: 0 })
    const stream = await SSEClient.open(`${url}/d`, { 'last-event-id': '/d:0' })
    await stream.waitForEvents(3)
    expect(stream.events.map((e) => [e.event, e.id])).toEqual([
      ['reset', undefined],
      [undefined, '/d:1'],
      ['ready', ''],
    ])
  })
})

describe.each(TRANSPORTS)('initial state (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('sends values, then ready, then live events', async () => {
    const { url } = await startServer()
    await set(url, '/init/a', 1)
    await set(url, '/init/b/c', 2)
    await set(url, '/initx', 3)
    const stream = await SSEClient.open(`${url}/init/?initial=1`)
    await stream.waitForEvents(3)
    await set(url, '/init/a', 4)
    await stream.waitForEvents(4)
    expect(stream.events).toEqual([
      { id: '/init/a:0', event: undefined, data: '1' },
      { id: '/init/b/c:0', event: undefined, data: '2' },
      { id: '/initx:0', event: 'ready', data: '{}' },
      { id: '/init/a:1', event: undefined, data: '4' },
    ])
  })

  it('reads initial as off when it is 0, false or no (any case), and on when present with any other value', async () => {
    const { url } = await startServer()
    const cases = [['initial=0', false], ['initial=FALSE', false], ['initial=No', false], ['initial', true], ['initial=yes', true]] as const
    for (const [i, [query, snapshot]] of cases.entries()) {
      await set(url, '/flag', 'before')
      const stream = await SSEClient.open(`${url}/flag?${query}`)
      await set(url, '/flag', 'after') // a key stream without its snapshot gets only this
      await stream.waitForEvents(snapshot ? 3 : 1)
      const ids = stream.events.map((event) => `${event.event ?? 'write'} ${event.id}`)
      const live = `write /flag:${2 * i + 1}`
      expect(ids, query).toEqual(snapshot ? [`write /flag:${2 * i}`, `ready /flag:${2 * i}`, live] : [live])
      stream.close()
    }
  })

  it('sends ready with an empty id when nothing was ever written', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/.stream?sub=/e&initial`)
    await stream.waitForEvents(1)
    expect(stream.events).toEqual([{ id: '', event: 'ready', data: '{}' }])
  })

  it('loses no revision to writes that race the opening', async () => {
    const { url } = await startServer()
    const keys = range(0, 4).map((i) => `/c/${i}`)
    for (const key of keys) await set(url, key, 'start')
    const total = 400
    const streams: SSEClient[] = []
    let written = 0
    const writer = (async () => {
      for (let i = 0; i < total; i++) {
        await set(url, keys[i % keys.length]!, i)
        written++
      }
    })()
    // Streams open at known points of the burst: after 0, 50, 100… writes, while it goes on.
    for (let i = 0; i < 6; i++) {
      await waitFor(() => written >= i * 50, `${i * 50} writes`)
      streams.push(await SSEClient.open(`${url}/c/?initial=1`))
    }
    await writer
    const final = total / keys.length // each key: revision 0, then total / 5 more
    for (const stream of streams) {
      await waitFor(
        () => keys.every((key) => revisionsOf(stream.writes(), key).at(-1) === final),
        'the last revision of every key',
      )
      const ready = stream.events.findIndex((e) => e.event === 'ready')
      const snapshot = stream.events.slice(0, ready).map(toWrite)
      expect(snapshot.map((w) => w.key).sort()).toEqual(keys)
      for (const key of keys) {
        const revisions = revisionsOf(stream.writes(), key)
        // From the snapshot's revision on, every revision once, in order.
        expect(revisions).toEqual(range(revisions[0]!, final))
      }
    }
  })

  it('gives a ready id that resumes exactly after what the stream had', async () => {
    const { url } = await startServer()
    await set(url, '/x', 0)
    const first = await SSEClient.open(`${url}/x?initial=1`)
    await first.waitForEvents(2)
    const readyId = first.events[1]!.id!
    first.close()
    await set(url, '/x', 1)
    await set(url, '/x', 2)
    const second = await SSEClient.open(`${url}/x`, { 'last-event-id': readyId })
    await second.waitForWrites(2)
    expect(second.writes().map((w) => w.revision)).toEqual([1, 2])
  })

  it('leaves writes made while a slow store reads the snapshot to the live events', async () => {
    // A store that reads its snapshot late, as a remote one would: writes land in between.
    const memory = new MemoryStore()
    const { store: late, release } = lateSnapshotStore(memory)
    const { url } = await startServer({ store: late })
    await set(url, '/late/a', 0)
    await set(url, '/late/c', 0)
    const stream = await SSEClient.open(`${url}/late/?initial=1`)
    for (let i = 1; i <= 3; i++) await set(url, '/late/a', i)
    await set(url, '/late/b', 0)
    release()
    await stream.waitForEvents(6)
    expect(stream.events.map((e) => [e.event, e.id])).toEqual([
      [undefined, '/late/c:0'],
      ['ready', '/late/c:0'],
      // Each key in order, every revision since the stream opened.
      [undefined, '/late/a:1'],
      [undefined, '/late/a:2'],
      [undefined, '/late/a:3'],
      [undefined, '/late/b:0'],
    ])
  })
})

describe.each(TRANSPORTS)('the backlog (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('stays within maxBytes through a long burst', async () => {
    const maxBytes = 4096
    const { url, atomkv } = await startServer({ backlog: { maxBytes } })
    for (let i = 0; i < 300; i++) {
      await post(url, `/b/${i % 7}`, { i, pad: 'z'.repeat(i % 200) })
      const { bytes, events } = atomkv.stats().backlog
      expect(bytes).toBeLessThanOrEqual(maxBytes)
      expect(events).toBeGreaterThan(0)
    }
  })

  it('empties itself for an event larger than maxBytes, so a resume resets rather than skips it', async () => {
    const { url, atomkv } = await startServer({ backlog: { maxBytes: 1000 } })
    await set(url, '/big', 'small')
    await set(url, '/big', 'x'.repeat(2000))
    expect(atomkv.stats().backlog).toEqual({ events: 0, bytes: 0 })
    const stream = await SSEClient.open(`${url}/big`, { 'last-event-id': '/big:0' })
    await stream.waitForEvents(3)
    expect(stream.events.map((e) => e.event)).toEqual(['reset', undefined, 'ready'])
    expect(stream.events[1]!.id).toBe('/big:1')
  })
})
