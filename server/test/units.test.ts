// The building blocks on their own, for the cases the HTTP tests cannot reach.

import { describe, expect, it } from 'vitest'
import { Backlog } from '../src/backlog.js'
import { Fifo } from '../src/fifo.js'
import { Hub } from '../src/hub.js'
import { MemoryStore } from '../src/memory-store.js'
import type { Store } from '../src/store.js'
import { WebSink } from '../src/sink.js'
import { guardURL } from '../src/routing.js'
import { acceptsEventStream, comment, frame, writeFrame } from '../src/sse.js'
import type { Subscriber } from '../src/subscriber.js'
import { lateSnapshotStore } from '@atomkv/test-support'
import { capturingLogger } from './helpers.js'

const text = (bytes: Uint8Array | { bytes: Uint8Array }) =>
  new TextDecoder().decode(bytes instanceof Uint8Array ? bytes : bytes.bytes)

/** The stream a subscriber writes to, as the fetch handler serves it. */
function streamOf(subscriber: Subscriber): ReadableStream<Uint8Array> {
  const sink = new WebSink(subscriber)
  subscriber.attach(sink)
  return sink.stream
}

describe('SSE frames', () => {
  it('encodes a write as id and data', () => {
    expect(text(writeFrame('/a/b', 7, '{"x":1}'))).toBe('id:/a/b:7\ndata:{"x":1}\n\n')
  })

  it('never lets a line break out of a field', () => {
    const encoded = text(frame({ id: 'a\nid:b\r', event: 'x\r\nevent:y', data: '1\n\ndata:2\r3' }))
    expect(encoded).toBe('id:aid:b\nevent:xevent:y\ndata:1\ndata:\ndata:data:2\ndata:3\n\n')
    // One frame: the only blank line is the last.
    expect(encoded.indexOf('\n\n')).toBe(encoded.length - 2)
    expect(text(comment('a\nb'))).toBe(':ab\n\n')
  })

  it('is also one complete HTTP/1.1 chunk, sharing its bytes', () => {
    const encoded = frame({ data: 'é' })
    expect(text(encoded.chunk)).toBe('9\r\ndata:é\n\n\r\n')
    expect(encoded.bytes.buffer).toBe(encoded.chunk.buffer)
    // Encoded once: every subscriber is handed the same bytes.
    const once = frame({ data: '1' })
    expect(once.bytes).toBe(once.bytes)
    expect(once.chunk).toBe(once.chunk)
  })

  it('writes an empty id line for a null id', () => {
    expect(text(frame({ id: null, event: 'ready', data: '{}' }))).toBe('id:\nevent:ready\ndata:{}\n\n')
  })

  it('negotiates text/event-stream', () => {
    expect(acceptsEventStream('text/event-stream')).toBe(true)
    expect(acceptsEventStream('text/html, text/event-stream;q=0.5')).toBe(true)
    expect(acceptsEventStream('text/event-stream ; charset=utf-8')).toBe(true)
    expect(acceptsEventStream('text/event-stream;q=0')).toBe(false)
    expect(acceptsEventStream('text/event-stream; Q=0')).toBe(false)
    expect(acceptsEventStream('text/event-streams')).toBe(false)
    expect(acceptsEventStream('*/*')).toBe(false)
    expect(acceptsEventStream(null)).toBe(false)
  })
})

describe('WebSink', () => {
  /** A sink's owner that counts what it is told. */
  function owner() {
    const told = { writable: 0, gone: 0 }
    return { told, writable: () => void told.writable++, gone: () => void told.gone++ }
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve))

  it('takes a frame only once the reader asks, so nothing waits inside the stream', async () => {
    const o = owner()
    const sink = new WebSink(o)
    await tick()
    expect(sink.writable).toBe(false)
    expect(o.told.writable).toBe(0)
    const reader = sink.stream.getReader()
    const read = reader.read()
    expect(sink.writable).toBe(true)
    expect(o.told.writable).toBe(1)
    const one = frame({ data: '1' })
    sink.write(one)
    expect(sink.writable).toBe(false)
    // One frame is handed over as its shared bytes, not a copy.
    expect((await read).value).toBe(one.bytes)
    const next = reader.read()
    expect(sink.writable).toBe(true)
    sink.writeAll([frame({ data: '2' }), frame({ data: '3' })])
    expect(sink.writable).toBe(false)
    expect(text((await next).value!)).toBe('data:2\n\ndata:3\n\n')
    const single = frame({ data: '4' })
    const last = reader.read()
    sink.writeAll([single])
    expect((await last).value).toBe(single.bytes)
    expect(o.told.gone).toBe(0)
    sink.end()
    expect(o.told.gone).toBe(1)
    expect((await reader.read()).done).toBe(true)
  })
})

describe('guardURL', () => {
  it('answers 400 to a URL that cannot be parsed, and lets any other failure through', async () => {
    const invalid = Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' })
    const answer = await guardURL({ fetch: () => { throw invalid } })(new Request('http://x/'))
    expect([answer.status, await answer.text()]).toEqual([400, 'the URL is malformed'])
    const other = new Error('something else')
    expect(() => guardURL({ fetch: () => { throw other } })(new Request('http://x/'))).toThrow(other)
  })
})

describe('Fifo', () => {
  it('gives items back first in first out, with size, empty, at() and last()', () => {
    const fifo = new Fifo<string>()
    expect([fifo.size, fifo.empty, fifo.shift(), fifo.last(), fifo.at(0)]).toEqual([0, true, undefined, undefined, undefined])
    // A shift of an empty queue leaves it empty.
    expect([fifo.size, fifo.empty]).toEqual([0, true])
    for (const item of ['a', 'b', 'c']) fifo.push(item)
    expect([fifo.size, fifo.empty]).toEqual([3, false])
    expect([fifo.at(-1), fifo.at(0), fifo.at(2), fifo.at(3), fifo.last()]).toEqual([undefined, 'a', 'c', undefined, 'c'])
    expect(fifo.shift()).toBe('a')
    expect([fifo.size, fifo.at(0), fifo.at(1), fifo.at(2)]).toEqual([2, 'b', 'c', undefined])
    expect([...fifo]).toEqual(['b', 'c'])
    fifo.clear()
    expect([fifo.size, fifo.empty, [...fifo]]).toEqual([0, true, []])
  })

  it('keeps its order and indexes across compaction and after running empty', () => {
    const fifo = new Fifo<number>()
    let next = 0
    let expected = 0
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) fifo.push(next++)
      for (let i = 0; i < 2500; i++) expect(fifo.shift()).toBe(expected++)
      expect(fifo.size).toBe(next - expected)
      expect(fifo.at(0)).toBe(expected)
      expect(fifo.last()).toBe(next - 1)
      expect([...fifo]).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i))
    }
    while (!fifo.empty) expect(fifo.shift()).toBe(expected++)
    expect([expected, fifo.size, fifo.shift()]).toEqual([next, 0, undefined])
    fifo.push(-1)
    expect([fifo.at(0), fifo.size]).toEqual([-1, 1])
  })
})

describe('Fifo memory', () => {
  it('holds at most about twice its items once past 1 024 spent slots, and nothing once drained', () => {
    const fifo = new Fifo<number>()
    for (let i = 0; i < 3000; i++) fifo.push(i)
    // A reader that keeps up with a standing backlog: one in, one out.
    for (let i = 0; i < 20_000; i++) {
      fifo.push(i)
      fifo.shift()
      expect(fifo.capacity).toBeLessThanOrEqual(Math.max(2 * fifo.size + 2, 1025 + fifo.size))
    }
    while (fifo.shift() !== undefined);
    expect([fifo.size, fifo.capacity]).toEqual([0, 0])
  })

  it('drops spent slots only once more than 1 024 are spent and they are more than half (a shift stays O(1) on average)', () => {
    // [pushed, shifted, capacity after]
    for (const [pushed, shifted, capacity] of [
      [3000, 1000, 3000], // few spent: kept
      [2000, 1024, 2000], // 1 024 spent, more than half: kept
      [2050, 1025, 2050], // 1 025 spent, exactly half: kept
      [2050, 1026, 2050 - 1026], // 1 026 spent, more than half: dropped
    ]) {
      const fifo = new Fifo<number>()
      for (let i = 0; i < pushed!; i++) fifo.push(i)
      for (let i = 0; i < shifted!; i++) fifo.shift()
      expect(fifo.capacity, `${pushed} pushed, ${shifted} shifted`).toBe(capacity)
      expect(fifo.at(0)).toBe(shifted)
    }
  })
})

describe('Backlog', () => {
  // An event counts its key ('/k': 2 characters), its JSON and 24 for the rest of its frame.
  const json = (size: number) => 'x'.repeat(Math.max(0, size - 26))

  it('evicts the oldest events by count and by bytes, with their ids', () => {
    const backlog = new Backlog({ maxEvents: 3, maxBytes: 300 })
    for (let i = 0; i < 5; i++) backlog.append('/k', i, json(30))
    expect(backlog.events).toBe(3)
    expect(backlog.find('/k:1')).toEqual({ reset: 'not-in-backlog' })
    expect(backlog.find('/k:2')).toEqual({ seq: 3 })
    expect(backlog.at(3)?.id).toBe('/k:2')
    backlog.append('/k', 5, json(270))
    expect(backlog.events).toBe(2)
    expect(backlog.bytes).toBe(300)
    expect(backlog.find('/k:3')).toEqual({ reset: 'not-in-backlog' })
    expect(backlog.newest?.id).toBe('/k:5')
    expect(backlog.find('k:5')).toEqual({ reset: 'malformed-id' })
  })

  // A key removed and written again starts over at revision 0: its ids repeat.
  describe('ids a removed key may have used twice', () => {
    it('resumes from a removal, and from writes of a key never removed before them', () => {
      const backlog = new Backlog()
      backlog.append('/k', 0, '1') // seq 1
      backlog.append('/k', 1, '2') // seq 2
      backlog.append('/k', -1, 'null', 1) // seq 3
      backlog.append('/k', 0, '3') // seq 4: the same id as seq 1
      expect(backlog.find('/k:-1')).toEqual({ seq: 3 }) // the only removal so far
      expect(backlog.find('/k:0')).toEqual({ reset: 'ambiguous-id' }) // seq 1 or seq 4?
      expect(backlog.find('/k:1')).toEqual({ seq: 2 }) // only one generation has reached 1 yet…
      backlog.append('/k', 1, '4') // seq 5
      expect(backlog.find('/k:1')).toEqual({ reset: 'ambiguous-id' }) // …now two have
      backlog.append('/k', 2, '5') // seq 6: beyond the removed generation's top
      expect(backlog.find('/k:2')).toEqual({ seq: 6 })
      backlog.append('/k', -1, 'null', 2) // seq 7
      expect(backlog.find('/k:-1')).toEqual({ reset: 'ambiguous-id' }) // seq 3 or seq 7?
      // Only one /k:2 exists, but the backlog keeps one top revision per key, not
      // one per generation: resetting is the safe answer it gives.
      expect(backlog.find('/k:2')).toEqual({ reset: 'ambiguous-id' })
      expect(backlog.find('/other:0')).toEqual({ reset: 'not-in-backlog' })
    })

    it('stays ambiguous once the older generation left the backlog', () => {
      const backlog = new Backlog({ maxEvents: 2 })
      backlog.append('/k', 0, '1')
      backlog.append('/k', -1, 'null', 0)
      backlog.append('/x', 0, '1')
      backlog.append('/k', 0, '2') // the first /k:0 and its removal are gone
      expect(backlog.at(1)).toBeUndefined()
      expect(backlog.at(2)).toBeUndefined()
      expect(backlog.find('/k:0')).toEqual({ reset: 'ambiguous-id' })
      expect(backlog.find('/x:0')).toEqual({ seq: 3 })
    })

    it('folds the oldest removed keys past maxRemovedKeys: resets more, never skips', () => {
      const backlog = new Backlog({ maxRemovedKeys: 2 })
      backlog.append('/a', 5, '1') // seq 1
      backlog.append('/a', -1, 'null', 5) // seq 2
      backlog.append('/b', -1, 'null', 0) // seq 3
      backlog.append('/c', -1, 'null', 1) // seq 4: /a is folded (top 5)
      expect(backlog.removedKeys).toBe(2)
      backlog.append('/a', 0, '2') // seq 5
      expect(backlog.find('/a:0')).toEqual({ reset: 'ambiguous-id' })
      // Any key not remembered counts as removed at the start, up to the folded top…
      backlog.append('/never-removed', 3, '1') // seq 6
      expect(backlog.find('/never-removed:3')).toEqual({ reset: 'ambiguous-id' })
      backlog.append('/never-removed', 6, '1') // seq 7
      expect(backlog.find('/never-removed:6')).toEqual({ seq: 7 }) // …and no higher
      // A key removed again after being folded keeps that past.
      backlog.append('/a', -1, 'null', 0) // seq 8
      expect(backlog.find('/a:-1')).toEqual({ reset: 'ambiguous-id' })
      expect(backlog.removedKeys).toBe(2)
    })
  })

  it('refuses a bound below 0 (or not a number), naming it; 0 keeps nothing', () => {
    for (const name of ['maxEvents', 'maxBytes', 'maxRemovedKeys'] as const) {
      expect(() => new Backlog({ [name]: -1 })).toThrow(new RangeError(`backlog.${name} must be 0 or more, got -1`))
      expect(() => new Backlog({ [name]: Number.NaN })).toThrow(`backlog.${name} must be 0 or more, got NaN`)
      expect(new Backlog({ [name]: 0 })[name]).toBe(0)
    }
    const none = new Backlog({ maxEvents: 0 })
    none.append('/k', 0, '1')
    expect(none.events).toBe(0)
    expect(none.find('/k:0')).toEqual({ reset: 'not-in-backlog' })
  })

  it('keeps an event exactly maxBytes long, and not one a byte longer', () => {
    const backlog = new Backlog({ maxBytes: 30 })
    backlog.append('/k', 0, json(30))
    expect(backlog.events).toBe(1)
    backlog.append('/k', 1, json(31))
    expect(backlog.events).toBe(0) // one too big empties the backlog: keeping /k:0 would leave a gap
    expect(backlog.find('/k:0')).toEqual({ reset: 'not-in-backlog' })
  })

  it('after a restart, takes every key as removed up to the highest top it was told (assumeRemoved)', () => {
    const backlog = new Backlog()
    backlog.assumeRemoved(3)
    backlog.assumeRemoved(1) // a lower top does not lower what was assumed
    backlog.append('/k', 3, '1') // seq 1: an earlier life of /k may have had /k:3
    backlog.append('/k', 4, '2') // seq 2: none reached 4
    expect(backlog.find('/k:3')).toEqual({ reset: 'ambiguous-id' })
    expect(backlog.find('/k:4')).toEqual({ seq: 2 })
  })

  it('stays consistent over many appends (compaction)', () => {
    const backlog = new Backlog({ maxEvents: 100 })
    for (let i = 0; i < 5000; i++) backlog.append('/k', i, json(1))
    expect(backlog.events).toBe(100)
    for (let seq = 4901; seq <= 5000; seq++) expect(backlog.at(seq)?.revision).toBe(seq - 1)
    expect(backlog.at(4900)).toBeUndefined()
  })
})

describe('Hub', () => {
  function setup(backlogEvents: number) {
    const logger = capturingLogger()
    const store = new MemoryStore()
    const hub = new Hub(store, {
      heartbeatMs: 0,
      retiringGraceMs: 5000,
      maxTotalSubscriptions: 1_000_000,
      maxStreamsPerClient: 0,
      maxQueueBytes: 1 << 20,
      maxStreams: 10,
      backlog: { maxEvents: backlogEvents },
      logger,
    })
    return { logger, store, hub }
  }

  it('cuts off a stream whose resume point leaves the backlog before its replay is read', async () => {
    const { logger, store, hub } = setup(10)
    for (let i = 0; i < 5; i++) await store.set('/g', String(i))
    const subscriber = hub.open({ subscriptions: ['/g'], initial: [], lastEventId: '/g:0' }) as Subscriber
    // The replay is read lazily; before anything is read, the backlog moves on.
    for (let i = 5; i < 30; i++) await store.set('/g', String(i))
    const reader = streamOf(subscriber).getReader()
    await expect(reader.read()).rejects.toThrow(/left the backlog/)
    expect(logger.warnings[0]).toMatch(/cut off stream #1 \(\/g\)/)
    expect(hub.streams).toBe(0)
  })

  it('replays lazily: a stream that reads in time gets every event', async () => {
    const { store, hub } = setup(10)
    for (let i = 0; i < 5; i++) await store.set('/g', String(i))
    const subscriber = hub.open({ subscriptions: ['/g'], initial: [], lastEventId: '/g:0' }) as Subscriber
    const reader = streamOf(subscriber).getReader()
    let received = ''
    while (!received.includes('id:/g:4\n')) received += text((await reader.read()).value!)
    for (let i = 5; i < 30; i++) await store.set('/g', String(i))
    while (!received.includes('id:/g:29\n')) received += text((await reader.read()).value!)
    const ids = [...received.matchAll(/id:\/g:(\d+)/g)].map((m) => Number(m[1]))
    expect(ids).toEqual(Array.from({ length: 29 }, (_, i) => i + 1))
    await reader.cancel()
    expect(hub.streams).toBe(0)
  })

  it('ends streams on closeStreams()', async () => {
    const { hub } = setup(10)
    const subscriber = hub.open({ subscriptions: ['/a', '/b/'], initial: [] }) as Subscriber
    expect(hub.subscriptions).toBe(2)
    const reader = streamOf(subscriber).getReader()
    expect(text((await reader.read()).value!)).toBe(':ok\n\n')
    expect(hub.closeStreams()).toBe(1)
    expect(await reader.read()).toEqual({ done: true, value: undefined })
    expect(hub.subscriptions).toBe(0)
  })
})

describe('the ids a stream sends', () => {
  interface Frame {
    id: string | undefined
    event: string | undefined
  }
  const parse = (text: string): Frame[] =>
    text
      .split('\n\n')
      .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
      .filter((lines) => lines.length > 0)
      .map((lines) => ({
        id: lines.find((l) => l.startsWith('id:'))?.slice(3),
        event: lines.find((l) => l.startsWith('event:'))?.slice(6),
      }))

  async function readUntil(stream: ReadableStream<Uint8Array>, done: (text: string) => boolean): Promise<string> {
    const reader = stream.getReader()
    let text = ''
    while (!done(text)) text += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()
    return text
  }

  for (const late of [false, true]) {
    it(`are each a resume point that loses nothing (${late ? 'a store that reads snapshots late' : 'the memory store'})`, async () => {
      const memory = new MemoryStore()
      const slow = lateSnapshotStore(memory)
      const store: Store = late ? slow.store : memory
      const release = slow.release
      const hub = new Hub(store, {
        heartbeatMs: 0,
      retiringGraceMs: 5000,
      maxTotalSubscriptions: 1_000_000,
      maxStreamsPerClient: 0,
        maxQueueBytes: 1 << 20,
        maxStreams: 1000,
        backlog: {},
        logger: capturingLogger(),
      })
      const write = (key: string) => memory.set(key, '1')
      for (const key of ['/i/a', '/s/x', '/i/b', '/z', '/s/y', '/i/a', '/s/x', '/i/c', '/s/y']) await write(key)
      const resumePoint = '/s/x:0'
      const open = (lastEventId: string, init: boolean) =>
        hub.open({ subscriptions: ['/i/', '/s/'], initial: init ? ['/i/'] : [], lastEventId }) as Subscriber

      const first = open(resumePoint, true)
      // Writes while the stream opens (and, for the late store, before its snapshot is read).
      for (const key of ['/s/x', '/i/b', '/s/z', '/i/d']) await write(key)
      release()
      await write('/s/end')
      const frames = parse(await readUntil(streamOf(first), (text) => text.includes('id:/s/end:0\n')))
      expect(frames.some((f) => f.event === 'ready')).toBe(true)

      // What a client must end up with: every /s/ write after the resume point, the last value of each /i/ key.
      const needed = ['/s/y:0', '/s/x:1', '/s/y:1', '/s/x:2', '/s/z:0', '/s/end:0', '/i/a:1', '/i/b:1', '/i/c:0', '/i/d:0']
      for (let cut = 0; cut <= frames.length; cut++) {
        const before = frames.slice(0, cut)
        const lastId = before.findLast((f) => f.id)?.id ?? resumePoint
        // Past `ready`, a client has its initial state and reconnects without asking for it again.
        const sawReady = before.some((f) => f.event === 'ready')
        const again = open(lastId, !sawReady)
        // A marker written after reconnecting: once it arrives, so has everything before it.
        await write(`/s/marker${cut}`)
        const after = parse(await readUntil(streamOf(again), (text) => text.includes(`id:/s/marker${cut}:0\n`)))
        const seen = new Set([...before, ...after].filter((f) => f.event === undefined).map((f) => f.id))
        for (const id of needed) expect(seen.has(id), `cut after ${cut} frames (last id ${lastId}): ${id}`).toBe(true)
      }
      hub.close()
    })
  }
})
