// The hub on its own, over a store the test controls: a feed that breaks
// (what a shared store reports), a store out of reach, a snapshot read that
// fails, and the heartbeat, which the HTTP tests reach only through timing.

import { describe, expect, it, vi } from 'vitest'
import type { FeedInterruption, Store } from '../src/store.js'
import { Hub, type HubOptions, StreamCutError } from '../src/hub.js'
import { MemoryStore } from '../src/memory-store.js'
import { WebSink } from '../src/sink.js'
import type { Subscriber } from '../src/subscriber.js'
import { memoryBacked } from '@atomkv/test-support'
import { capturingLogger } from './helpers.js'

/** A memory store that can be made unreachable, made to fail snapshot reads, or made to report a broken feed. */
function controlledStore() {
  const memory = new MemoryStore()
  const interruptions = new Set<(interruption: FeedInterruption) => void>()
  const control = { reachable: true, failList: false, unsubscribed: 0 }
  const store = memoryBacked(memory, {
    subscribe(listener) {
      const off = memory.subscribe(listener)
      return () => {
        control.unsubscribed++
        off()
      }
    },
    list: (subscriptions) =>
      control.failList ? Promise.reject(new Error('the store is gone')) : memory.list(subscriptions),
    available: () => control.reachable,
    onInterruption(listener) {
      interruptions.add(listener)
      return () => interruptions.delete(listener)
    },
  })
  const interrupt = (interruption: FeedInterruption) => {
    for (const listener of interruptions) listener(interruption)
  }
  return { memory, store, control, interrupt, interruptions }
}

function hubOn(store: Store, options: Partial<HubOptions> = {}) {
  const logger = capturingLogger()
  const hub = new Hub(store, {
    heartbeatMs: 0,
    retiringGraceMs: 5000,
    maxTotalSubscriptions: 1000,
    maxStreamsPerClient: 0,
    maxQueueBytes: 1 << 20,
    maxStreams: 100,
    backlog: {},
    logger,
    ...options,
  })
  return { hub, logger }
}

/** Attaches a web sink and reads the stream as text, as far as `until` asks. */
function reader(subscriber: Subscriber) {
  const sink = new WebSink(subscriber)
  subscriber.attach(sink)
  const stream = sink.stream.getReader()
  let text = ''
  return {
    async until(done: (text: string) => boolean): Promise<string> {
      while (!done(text)) {
        const { value, done: ended } = await stream.read()
        if (ended) throw new Error(`the stream ended; it sent: ${JSON.stringify(text)}`)
        text += new TextDecoder().decode(value)
      }
      return text
    },
    read: () => stream.read(),
  }
}

describe('Hub over a store it does not own', () => {
  it('resets resumes and ends its streams when the feed breaks, under the instance the store names', async () => {
    const { memory, store, interrupt } = controlledStore()
    const { hub } = hubOn(store)
    await memory.set('/k', '1')
    const before = hub.instance
    const stream = reader(hub.open({ subscriptions: ['/k'], initial: [] }) as Subscriber)
    await stream.until((text) => text.includes(':ok'))

    // Changes were missed: what the backlog holds no longer leads on.
    interrupt({ reason: 'test', missed: true, instance: 'after-gap' })
    expect(await stream.read()).toEqual({ done: true, value: undefined })
    expect(hub.streams).toBe(0)
    expect(hub.instance).toBe('after-gap')
    expect(hub.backlog.events).toBe(0)
    expect(before).not.toBe('after-gap')

    // Nothing missed: the backlog stays, streams still end (they resume at once).
    await memory.set('/k', '2')
    const again = reader(hub.open({ subscriptions: ['/k'], initial: [] }) as Subscriber)
    await again.until((text) => text.includes(':ok'))
    interrupt({ reason: 'test', missed: false, instance: 'same-feed' })
    expect(await again.read()).toEqual({ done: true, value: undefined })
    expect(hub.backlog.events).toBe(1)
    expect(hub.instance).toBe('same-feed')
  })

  it('refuses a stream while the store is out of reach', () => {
    const { store, control } = controlledStore()
    const { hub } = hubOn(store)
    control.reachable = false
    expect(hub.open({ subscriptions: ['/k'], initial: [] })).toBe('store-unavailable')
    expect(hub.streams).toBe(0)
    control.reachable = true
    expect(typeof hub.open({ subscriptions: ['/k'], initial: [] })).toBe('object')
  })

  it('cuts off a stream whose initial state cannot be read, and says why in the log', async () => {
    const { store, control } = controlledStore()
    const { hub, logger } = hubOn(store)
    control.failList = true
    const stream = reader(hub.open({ subscriptions: ['/a', '/b/'], initial: ['/a'], client: '10.1.1.1' }) as Subscriber)
    const error = await stream.until(() => false).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StreamCutError)
    expect(error).toMatchObject({ name: 'StreamCutError', message: 'could not read the initial state' })
    expect(logger.errors).toEqual(['atomkv: could not read the initial state for stream #1 from 10.1.1.1 (/a /b/)'])
    expect(hub.streams).toBe(0)
  })

  it('stops listening to the store and its feed on close', async () => {
    const { memory, store, control, interruptions } = controlledStore()
    const { hub } = hubOn(store)
    await memory.set('/k', '1')
    hub.close()
    expect(control.unsubscribed).toBe(1)
    expect(interruptions.size).toBe(0)
    await memory.set('/k', '2')
    expect(hub.backlog.events).toBe(1)
    expect(hub.open({ subscriptions: ['/k'], initial: [] })).toBe('closed')
  })
})

describe('Hub limits', () => {
  it('sets no limit per client address with maxStreamsPerClient 0', () => {
    const { hub } = hubOn(new MemoryStore(), { maxStreamsPerClient: 0 })
    for (let i = 0; i < 5; i++) expect(typeof hub.open({ subscriptions: ['/k'], initial: [], client: '10.0.0.1' })).toBe('object')
    expect(hub.streams).toBe(5)
    hub.close()
  })
})

describe('Hub sessions', () => {
  it('retires each stream of a session when the next one opens, and forgets sessions and addresses with their streams', async () => {
    const { hub } = hubOn(new MemoryStore())
    const open = (i: number) => hub.open({ subscriptions: ['/k'], initial: [], session: 's', client: `10.0.0.${i % 2}` })
    const streams = [0, 1, 2].map(() => reader(open(0) as Subscriber))
    // Each replaced stream had nothing queued: it ends at once.
    for (const stream of streams.slice(0, 2)) await stream.until(() => false).catch(() => {})
    expect(hub.streams).toBe(1)
    expect(hub.tracked).toEqual({ paths: 1, addresses: 1, sessions: 1 })
    // Many paths, addresses and sessions come and go: the maps end empty.
    const more = Array.from({ length: 20 }, (_, i) =>
      hub.open({ subscriptions: ['/k', `/p${i}/`], initial: [], session: `s${i}`, client: `10.1.0.${i}` }) as Subscriber,
    )
    expect(hub.tracked).toEqual({ paths: 21, addresses: 21, sessions: 21 })
    hub.closeStreams()
    expect(hub.tracked).toEqual({ paths: 0, addresses: 0, sessions: 0 })
    expect(more).toHaveLength(20)
  })


  it('cuts off a replaced stream that has not sent what it held within the grace, saying so', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const { memory, store } = controlledStore()
      const { hub, logger } = hubOn(store, { retiringGraceMs: 2000 })
      const old = hub.open({ subscriptions: ['/k'], initial: [], session: 's1', client: '10.0.0.2' }) as Subscriber
      const oldStream = reader(old)
      await oldStream.until((text) => text.includes(':ok'))
      // Read no further: the next event waits in the old stream's queue.
      await memory.set('/k', '1')
      await memory.set('/k', '2')
      hub.open({ subscriptions: ['/k'], initial: [], session: 's1', client: '10.0.0.2' })
      expect(hub.streams).toBe(2)
      vi.advanceTimersByTime(1999)
      expect(hub.cutOff).toBe(0)
      vi.advanceTimersByTime(1)
      expect(hub.cutOff).toBe(1)
      expect(hub.streams).toBe(1)
      expect(logger.warnings).toEqual([
        'atomkv: cut off stream #1 from 10.0.0.2 (/k): replaced, and did not send what it held within 2000 ms',
      ])
      const error = await oldStream.until(() => false).catch((e: unknown) => e)
      expect(error).toMatchObject({ name: 'StreamCutError', message: 'replaced, and not read' })
      hub.close()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('Hub heartbeats', () => {
  it('sends a comment to idle streams and cuts off one that holds too much to take it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    try {
      const { memory, store } = controlledStore()
      const { hub, logger } = hubOn(store, { heartbeatMs: 1000, maxQueueBytes: 64 })
      // Never read: its sink takes nothing, so what it is sent waits in its queue.
      const stuck = hub.open({ subscriptions: ['/k'], initial: [], client: '10.0.0.9' }) as Subscriber
      const stuckSink = new WebSink(stuck)
      stuck.attach(stuckSink)
      const idle = reader(hub.open({ subscriptions: ['/other'], initial: [] }) as Subscriber)
      await idle.until((text) => text.includes(':ok'))
      await memory.set('/k', JSON.stringify('x'.repeat(50)))
      vi.advanceTimersByTime(1000)
      // Whatever comes next is the heartbeat: a bare comment.
      expect(await idle.until((text) => text.length > ':ok\n\n'.length)).toBe(':ok\n\n:\n\n')
      vi.advanceTimersByTime(1000)
      expect(hub.cutOff).toBe(1)
      expect(logger.warnings).toEqual([
        'atomkv: cut off stream #1 from 10.0.0.9 (/k) at a heartbeat: it is not reading, and its unsent events passed 64 bytes (it can resume from its last event id)',
      ])
      await expect(stuckSink.stream.getReader().read()).rejects.toMatchObject({ message: 'unsent events passed 64 bytes' })
      // The other stream still gets its heartbeats; with no stream left, no timer runs.
      vi.advanceTimersByTime(1000)
      expect(await idle.until((text) => text.length > ':ok\n\n:\n\n'.length)).toBe(':ok\n\n:\n\n:\n\n')
      expect(hub.closeStreams()).toBe(1)
      memory.close() // its sweep is the other timer
      expect(vi.getTimerCount()).toBe(0)
      hub.close()
    } finally {
      vi.useRealTimers()
    }
  })
})
