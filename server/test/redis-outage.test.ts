// Redis going away under running servers (issue 17): requests answer 503
// with a reason, streams end so clients resume, the servers reconnect by
// themselves, and nothing acknowledged is lost. The Redis here keeps an
// append-only file synced at every write, and is killed (SIGKILL), not stopped.

import { describe, expect, it } from 'vitest'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { post, set, SSEClient } from './helpers.js'
import { startProxy, startRedis } from './redis-server.js'

describe('Redis out of reach', () => {
  it('answers 503 with why, ends streams, and recovers by itself when Redis is back', async () => {
    const redis = await startRedis({ persist: true })
    const server = await startServer({ redis: redis.url })
    await set(server.url, '/k', 1)
    const stream = await SSEClient.open(`${server.url}/k`)

    await redis.kill()
    await waitFor(() => stream.ended, 'the stream to end')
    const write = await post(server.url, '/k', 2)
    expect(write.status).toBe(503)
    expect(await write.text()).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable .*; "\/k" was not stored$/)
    const read = await fetch(`${server.url}/k`)
    expect(read.status).toBe(503)
    expect(await read.text()).toMatch(/Redis at .* is unreachable/)
    expect((await fetch(`${server.url}/k`, { method: 'DELETE' })).status).toBe(503)
    expect((await fetch(`${server.url}/.health`)).status).toBe(503)
    const refused = await fetch(`${server.url}/k`, { headers: { accept: 'text/event-stream' } })
    expect(refused.status).toBe(503)
    expect(await refused.text()).toMatch(/the store cannot be reached/)

    await redis.start()
    await waitFor(async () => (await fetch(`${server.url}/.health`)).status === 200, 'the server to reconnect', 20_000)
    const after = await fetch(`${server.url}/k`)
    expect(after.status).toBe(200)
    expect(await after.json()).toBe(1)
    const resumed = await SSEClient.open(`${server.url}/k`)
    expect(await set(server.url, '/k', 3)).toBe(1)
    await resumed.waitForWrites(1)
    expect(resumed.writes()[0]).toEqual({ key: '/k', revision: 1, value: 3 })
  })

  it('keeps what it acknowledged across a Redis restart mid-run; clients on both servers resume to the same state', async () => {
    const redis = await startRedis({ persist: true })
    const a = await startServer({ redis: redis.url })
    const b = await startServer({ redis: redis.url })

    // A watcher on each server, keeping what it is told of /w/.
    const views = [a, b].map((server) => {
      const view = new Map<string, unknown>()
      startClient(server.url).watch<number>(
        '/w/',
        (event) => {
          if (event.type === 'reset') view.clear()
          else if (event.type === 'value') view.set(event.key, event.value)
          else if (event.type === 'delete') view.delete(event.key)
        },
        { initial: true },
      )
      return view
    })

    const acknowledged = new Map<string, number>()
    const attempted = new Set<string>()
    let refused = 0
    const write = async (i: number) => {
      const key = `/w/${i}`
      attempted.add(key)
      const response = await post(i % 2 ? a.url : b.url, key, i).catch(() => undefined)
      if (response?.status === 200) acknowledged.set(key, i)
      else if (response?.status === 503) refused++
      else throw new Error(`POST ${key}: ${response?.status} ${await response?.text()}`)
    }
    let i = 0
    for (; i < 60; i++) await write(i)
    await redis.kill()
    while (refused < 10) await write(i++)
    await redis.start()
    for (const server of [a, b]) {
      await waitFor(async () => (await fetch(`${server.url}/.health`)).status === 200, 'the servers to reconnect', 20_000)
    }
    for (const end = i + 60; i < end; i++) await write(i)

    // The state after: everything acknowledged, nothing never attempted.
    const snapshot = await SSEClient.open(`${a.url}/w/?initial=1`)
    await waitFor(() => snapshot.events.some((e) => e.event === 'ready'), 'the snapshot')
    const final = new Map(snapshot.writes().map((w) => [w.key, w.value]))
    for (const [key, value] of acknowledged) expect(final.get(key), key).toBe(value)
    for (const key of final.keys()) expect(attempted.has(key), key).toBe(true)
    expect(acknowledged.size).toBeGreaterThanOrEqual(120)

    for (const view of views) {
      await waitFor(() => view.size === final.size, `a watcher to hold all ${final.size} keys (has ${view.size})`, 20_000)
      expect(view).toEqual(final)
    }
  })

  it('starts a new history when Redis comes back without its data: resumes reset instead of replaying', async () => {
    const redis = await startRedis() // keeps nothing on disk
    const server = await startServer({ redis: redis.url })
    const stream = await SSEClient.open(`${server.url}/k`)
    const instance = stream.response.headers.get('x-atomkv-instance')!
    await set(server.url, '/k', 'before')
    await stream.waitForWrites(1)

    await redis.kill()
    await redis.start()
    await waitFor(async () => (await fetch(`${server.url}/.health`)).status === 200, 'the server to reconnect', 20_000)
    expect((await fetch(`${server.url}/k`)).status).toBe(404)
    // The same id names another write now: a resume from the old history must not replay from it.
    await set(server.url, '/k', 'after')
    const resumed = await SSEClient.open(`${server.url}/k?instance=${instance}`, { 'last-event-id': '/k:0' })
    expect(resumed.response.headers.get('x-atomkv-instance')).not.toBe(instance)
    await waitFor(() => resumed.events.some((e) => e.event === 'ready'), 'the reset snapshot')
    expect(resumed.events[0]).toMatchObject({ event: 'reset', data: '{"reason":"server-restarted"}' })
    expect(resumed.writes()).toEqual([{ key: '/k', revision: 0, value: 'after' }])
  })

  it('resets resumes on a server cut off from Redis for longer than the feed is long, instead of leaving a gap', async () => {
    const redis = await startRedis()
    const proxy = await startProxy(redis.port)
    const a = await startServer({ redis: { url: redis.url, feedLength: 10 } })
    const b = await startServer({ redis: { url: proxy.url, feedLength: 10 } })
    const stream = await SSEClient.open(`${b.url}/g/`)
    const instance = stream.response.headers.get('x-atomkv-instance')!
    await set(a.url, '/g/k', 0)
    await stream.waitForWrites(1)
    const lastId = stream.lastEventId()!

    proxy.cut()
    await waitFor(() => stream.ended, 'the stream on the server cut off to end')
    // Redis trims its stream a node (100 entries) at a time: 300 changes leave the first ones behind.
    for (let i = 1; i <= 300; i++) await set(a.url, '/g/k', i)
    proxy.restore()
    await waitFor(async () => (await fetch(`${b.url}/.health`)).status === 200, 'the server to reconnect', 20_000)
    const live = await SSEClient.open(`${b.url}/g/`)
    await set(a.url, '/g/k', 'last')
    await live.waitForWrites(1) // b has read the feed up to here

    const resumed = await SSEClient.open(`${b.url}/g/?instance=${instance}`, { 'last-event-id': lastId })
    await waitFor(() => resumed.events.some((e) => e.event === 'ready'), 'the reset snapshot')
    expect(resumed.events[0]).toMatchObject({ event: 'reset', data: '{"reason":"not-in-backlog"}' })
    expect(resumed.writes()).toEqual([{ key: '/g/k', revision: 301, value: 'last' }])
  })
})
