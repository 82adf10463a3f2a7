// Several servers on one Redis (issue 17): they share the keys, the event
// streams and resume, as one server would. Each test has a key prefix of its
// own in one redis-server started for the file.

import { beforeAll, describe, expect, it } from 'vitest'
import { startClient, startServer, type TestServer, waitFor } from '@atomkv/test-support'
import { redisStore } from '../src/index.js'
import { post, range, set, SSEClient } from './helpers.js'
import { startRedis, type TestRedis } from './redis-server.js'

let redis: TestRedis
let tests = 0

beforeAll(async () => {
  redis = await startRedis()
})

/** Two servers (`a`, `b`) on the Redis, with a key prefix of this test's own. */
async function twoInstances(options: { expireAfterMs?: number } = {}): Promise<[TestServer, TestServer]> {
  const shared = { url: redis.url, prefix: `scale${++tests}` }
  const a = await startServer({ redis: shared, ...options })
  const b = await startServer({ redis: shared, ...options })
  return [a, b]
}

describe('two servers on one Redis', () => {
  it('share one history: the same instance name on both', async () => {
    const [a, b] = await twoInstances()
    expect(a.atomkv.store.history?.instance).toMatch(/^[0-9a-f-]{36}$/)
    const stream = await SSEClient.open(`${a.url}/x`)
    const other = await SSEClient.open(`${b.url}/x`)
    expect(stream.response.headers.get('x-atomkv-instance')).toBe(other.response.headers.get('x-atomkv-instance'))
  })

  it('end 8 modify() loops spread over both, 50 increments each, at exactly 400', async () => {
    const [a, b] = await twoInstances()
    const clients = range(0, 7).map((i) => startClient(i % 2 === 0 ? a.url : b.url))
    await Promise.all(
      clients.map(async (client) => {
        // Eight writers on one key: a loop may lose many rounds in a row (this tests atomicity, not fairness).
        for (let i = 0; i < 50; i++) await client.modify<number>('/counter', (n) => (n ?? 0) + 1, { maxAttempts: 1000 })
      }),
    )
    for (const server of [a, b]) {
      const response = await fetch(`${server.url}/counter`)
      expect(await response.json()).toBe(400)
      expect(response.headers.get('x-revision')).toBe('399')
    }
  })

  it('give a prefix subscriber on one every write made on the other, in order, once', async () => {
    const [a, b] = await twoInstances()
    const stream = await SSEClient.open(`${b.url}/p/`)
    const expected: string[] = []
    const revisions = new Map<string, number>()
    for (let i = 0; i < 60; i++) {
      const key = `/p/${i % 5}/k${i % 7}`
      const revision = await set(a.url, key, i)
      expect(revision).toBe((revisions.get(key) ?? -1) + 1)
      revisions.set(key, revision)
      expected.push(`${key}:${revision}`)
    }
    await set(a.url, '/q/outside', 1)
    await stream.waitForWrites(60)
    await set(a.url, '/p/last', 'end')
    await stream.waitForWrites(61)
    expect(stream.writes().map((w) => `${w.key}:${w.revision}`)).toEqual([...expected, '/p/last:0'])
    expect(stream.writes()[7]!.value).toBe(7)
  })

  it('resume a stream cut from one on the other with no gap', async () => {
    const [a, b] = await twoInstances()
    const first = await SSEClient.open(`${a.url}/r/`)
    const instance = first.response.headers.get('x-atomkv-instance')!
    for (let i = 0; i < 10; i++) await set(a.url, `/r/${i % 3}`, i)
    await first.waitForWrites(10)
    const lastId = first.lastEventId()!
    first.close()
    // Written while no stream is open, on both servers.
    for (let i = 10; i < 20; i++) await set(i % 2 ? a.url : b.url, `/r/${i % 3}`, i)
    const resumed = await SSEClient.open(`${b.url}/r/?instance=${instance}`, { 'last-event-id': lastId })
    await resumed.waitForWrites(10)
    await set(b.url, '/r/live', 'live')
    await resumed.waitForWrites(11)
    expect(resumed.events.some((e) => e.event === 'reset')).toBe(false)
    expect(resumed.writes().map((w) => w.value)).toEqual([...range(10, 19), 'live'])
  })

  it('resume a stream on a server started after it was cut, from the feed', async () => {
    const shared = { url: redis.url, prefix: `scale${++tests}` }
    const a = await startServer({ redis: shared })
    const first = await SSEClient.open(`${a.url}/late/`)
    const instance = first.response.headers.get('x-atomkv-instance')!
    for (let i = 0; i < 5; i++) await set(a.url, '/late/k', i)
    await first.waitForWrites(5)
    const lastId = first.lastEventId()!
    first.close()
    await fetch(`${a.url}/late/k`, { method: 'DELETE' })
    await set(a.url, '/late/k', 'again')
    const c = await startServer({ redis: shared })
    const resumed = await SSEClient.open(`${c.url}/late/?instance=${instance}`, { 'last-event-id': lastId })
    expect(resumed.response.headers.get('x-atomkv-instance')).toBe(instance)
    await resumed.waitForWrites(2)
    expect(resumed.events.some((e) => e.event === 'reset')).toBe(false)
    expect(resumed.writes()).toEqual([
      { key: '/late/k', revision: -1, value: null },
      { key: '/late/k', revision: 0, value: 'again' },
    ])
  })

  it('tell deletes to streams on both', async () => {
    const [a, b] = await twoInstances()
    const onA = await SSEClient.open(`${a.url}/d/`)
    const onB = await SSEClient.open(`${b.url}/d/`)
    await set(a.url, '/d/k', 1)
    expect((await fetch(`${b.url}/d/k`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${a.url}/d/k`)).status).toBe(404)
    expect((await fetch(`${a.url}/d/k`, { method: 'DELETE' })).status).toBe(404)
    for (const stream of [onA, onB]) {
      await stream.waitForWrites(2)
      expect(stream.writes().map((w) => `${w.key}:${w.revision}:${JSON.stringify(w.value)}`)).toEqual(['/d/k:0:1', '/d/k:-1:null'])
    }
  })

  it('tell expiries to streams on both', async () => {
    const [a, b] = await twoInstances({ expireAfterMs: 300 })
    const onA = await SSEClient.open(`${a.url}/e/`)
    const onB = await SSEClient.open(`${b.url}/e/`)
    await set(b.url, '/e/k', 'soon gone')
    for (const stream of [onA, onB]) {
      await stream.waitForWrites(2, 10_000)
      expect(stream.writes().map((w) => `${w.key}:${w.revision}`)).toEqual(['/e/k:0', '/e/k:-1'])
    }
  })

  it('tell the first subscriber of a store what other servers wrote after it opened, however late it subscribes', async () => {
    const options = { logger: false as const, prefix: `scale${++tests}` }
    const [a, b] = [await redisStore(redis.url, options), await redisStore(redis.url, options)]
    try {
      await a.set('/x', '1')
      await a.set('/x', '2')
      const told: string[] = []
      b.subscribe(({ key, revision }) => told.push(`${key}:${revision}`))
      await waitFor(() => told.length === 2, 'the two writes')
      expect(told).toEqual(['/x:0', '/x:1'])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('enforce maxKeys over both together', async () => {
    const shared = { url: redis.url, prefix: `scale${++tests}` }
    const a = await startServer({ redis: shared, maxKeys: 3 })
    const b = await startServer({ redis: shared, maxKeys: 3 })
    const statuses = await Promise.all(range(0, 9).map((i) => post(i % 2 ? a.url : b.url, `/m/${i}`, i).then((r) => r.status)))
    expect(statuses.filter((s) => s === 200)).toHaveLength(3)
    expect(statuses.filter((s) => s === 507)).toHaveLength(7)
    await waitFor(() => a.atomkv.stats().keys === 3 && b.atomkv.stats().keys === 3, 'both to count 3 keys')
  })
})
