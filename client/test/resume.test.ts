import { describe, expect, it } from 'vitest'
import type { ConnectionStatus } from '../src/index.js'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { gatedFetch, recorder, take } from './helpers.js'

describe('resume', () => {
  it('reconnects by itself when the server cuts the stream mid-burst, and loses nothing', async () => {
    const server = await startServer()
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch })
    const writer = startClient(server.url)
    const sub = kv.subscribe<number>('/r')
    await sub.ready
    const reading = take(sub, 1000, 60_000) // a condition, not a speed: generous on a loaded two-core machine
    for (let i = 0; i < 1000; i++) {
      await writer.set('/r', i)
      if (i % 250 === 125) server.atomkv.closeStreams()
    }
    const revisions = (await reading).map(([, , revision]) => revision)
    expect(revisions).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(gate.streamRequests.length).toBeGreaterThanOrEqual(5) // the first open and four reconnections
    expect(server.atomkv.stats().streams).toBe(1)
  })

  it('resumes a position naming a non-ASCII key (sent in the query, not a header)', async () => {
    const server = await startServer()
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch })
    const watched = recorder()
    kv.watch('/ü/', watched.listener)
    await waitFor(() => watched.types().includes('ready'), 'ready')
    await kv.set('/ü/日本', 0)
    await waitFor(() => watched.types().includes('/ü/日本:0'), 'the first write')
    gate.shut()
    server.atomkv.closeStreams()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    await kv.set('/ü/日本', 1)
    await kv.set('/ü/日本', 2)
    gate.open()
    await waitFor(() => watched.types().includes('/ü/日本:2'), 'the missed writes')
    expect(watched.types()).toEqual(['ready', '/ü/日本:0', '/ü/日本:1', '/ü/日本:2']) // no reset: a real resume
    expect(gate.streamRequests.at(-1)).toContain('last-event-id=')
  })

  it('rebuilds from a reset when its position left the backlog', async () => {
    const server = await startServer({ backlog: { maxEvents: 5 } })
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch })
    const writer = startClient(server.url)
    await writer.set('/g/a', 'a0')
    await writer.set('/g/b', 'b0')
    const watched = recorder()
    kv.watch('/g/', watched.listener, { initial: true })
    const sub = kv.subscribe<string>('/g/')
    await sub.ready
    await waitFor(() => watched.types().includes('ready'), 'ready')
    await writer.set('/g/a', 'a1')
    expect(await take(sub, 1)).toEqual([['/g/a', 'a1', 1]])

    gate.shut()
    server.atomkv.closeStreams()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    for (let i = 2; i < 12; i++) await writer.set('/g/a', `a${i}`)
    await writer.set('/g/c', 'c0')
    for (let i = 0; i < 10; i++) await writer.set('/elsewhere', i) // push /g/ events out of the backlog
    const before = watched.events.length
    gate.open()

    await waitFor(() => watched.events.slice(before).some((e) => e.type === 'ready'), 'the reset to complete')
    const afterReset = watched.types().slice(before)
    expect(afterReset[0]).toBe('reset')
    expect(afterReset.slice(1, -1).sort()).toEqual(['/g/a:11', '/g/b:0', '/g/c:0'])
    expect(afterReset.at(-1)).toBe('ready')
    // The watcher's state is the server's.
    for (const key of ['/g/a', '/g/b', '/g/c']) expect(watched.state.get(key)).toEqual(await kv.get(key))
    expect(watched.state.size).toBe(3)
    // The iterator gets each key whose revision changed, at its latest revision, once.
    const changed = await take(sub, 2)
    expect(changed.sort()).toEqual([['/g/a', 'a11', 11], ['/g/c', 'c0', 0]])
    await writer.set('/g/b', 'b1')
    expect(await take(sub, 1)).toEqual([['/g/b', 'b1', 1]])
  })

  it('reconnects to a restarted server on the same port and converges to its state', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const statuses: ConnectionStatus[] = []
    kv.onStatus((status) => statuses.push(status))
    await kv.set('/s/old', 'gone after the restart')
    await kv.set('/s/kept', 'v0')
    await kv.set('/s/kept', 'v1')
    const watched = recorder()
    kv.watch('/s/', watched.listener, { initial: true })
    const sub = kv.subscribe('/s/')
    await sub.ready
    await waitFor(() => watched.types().includes('ready'), 'ready')
    expect(watched.state.size).toBe(2)

    await server.close()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    await server.restart()
    try {
      await waitFor(() => kv.status === 'open', 'the client to reconnect')
      await waitFor(() => watched.events.filter((e) => e.type === 'ready').length === 2, 'the reset to complete')
      await kv.set('/s/kept', 'new')
      await kv.set('/s/fresh', 'f')
      await waitFor(() => watched.state.size === 2 && watched.state.get('/s/fresh') !== undefined, 'convergence')
      expect(watched.state.get('/s/kept')).toEqual(['new', 0])
      expect(watched.state.has('/s/old')).toBe(false)
      // While the old server closes, a reconnection can still reach it over a kept-alive
      // socket and be cut again: more rounds of reconnecting → open are fine.
      expect(statuses.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting'])
      expect(statuses.at(-1)).toBe('open')
      expect(new Set(statuses.slice(2))).toEqual(new Set(['reconnecting', 'open']))
      // The iterator follows the new server too: the keys it does not have are gone.
      expect(await take(sub, 4)).toEqual([
        ['/s/old', null, -1],
        ['/s/kept', null, -1],
        ['/s/kept', 'new', 0],
        ['/s/fresh', 'f', 0],
      ])
    } finally {
      kv.close()
      await server.close()
    }
  })

  it('resets after a restart even when the new server already wrote the same id', async () => {
    const server = await startServer()
    const gate = gatedFetch()
    const kv = startClient(server.url, { fetch: gate.fetch })
    await kv.set('/live', 'before')
    const watched = recorder()
    kv.watch('/live', watched.listener, { initial: true })
    await waitFor(() => watched.types().includes('ready'), 'ready')

    gate.shut() // the client cannot reconnect until the new server has written "/live:0"
    await server.close()
    await waitFor(() => kv.status === 'reconnecting', 'reconnecting')
    await server.restart()
    try {
      await fetch(`${server.url}/live`, { method: 'POST', body: '"after"' })
      gate.open()
      await waitFor(() => watched.state.get('/live')?.[0] === 'after', 'the new value')
      expect(watched.types()).toContain('reset')
      expect(watched.state.get('/live')).toEqual(['after', 0])
    } finally {
      kv.close()
      await server.close()
    }
  })

  it('reports its status: connecting, open, reconnecting, open, closed', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const statuses: ConnectionStatus[] = []
    const stop = kv.onStatus((status) => statuses.push(status))
    expect(kv.status).toBe('closed')
    const sub = kv.subscribe('/st')
    await sub.ready
    expect(kv.status).toBe('open')
    server.atomkv.closeStreams()
    await waitFor(() => statuses.length === 4, 'the reconnection')
    await sub.return()
    await waitFor(() => kv.status === 'closed', 'closed')
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed'])
    stop()
    kv.subscribe('/st2')
    await waitFor(() => kv.status === 'open', 'open again')
    expect(statuses).toHaveLength(5) // no longer listening
    kv.close()
    expect(kv.status).toBe('closed')
  })
})
