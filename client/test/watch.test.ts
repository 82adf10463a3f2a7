import { describe, expect, it } from 'vitest'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { recorder } from './helpers.js'

describe('watch', () => {
  it('with initial: the current state, then ready, then live writes', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/w/a', 'a0')
    await kv.set('/w/b/c', 'c0')
    await kv.set('/w/a', 'a1')
    await kv.set('/wx', 'not covered')
    const watched = recorder()
    kv.watch('/w/', watched.listener, { initial: true })
    await waitFor(() => watched.events.some((e) => e.type === 'ready'), 'ready')
    expect(watched.types().slice(0, 2).sort()).toEqual(['/w/a:1', '/w/b/c:0'])
    expect(watched.types()[2]).toBe('ready')
    await kv.set('/w/b/c', 'c1')
    await waitFor(() => watched.events.length === 4, 'the live write')
    expect(watched.events[3]).toEqual({ type: 'value', key: '/w/b/c', value: 'c1', revision: 1 })
  })

  it('with initial on a key that does not exist: ready alone', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const watched = recorder()
    kv.watch('/nothing', watched.listener, { initial: true })
    await waitFor(() => watched.events.length > 0, 'ready')
    expect(watched.types()).toEqual(['ready'])
  })

  it('loses nothing written while it opens', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const writer = startClient(server.url)
    let writing = true
    const writes = (async () => {
      for (let i = 0; writing; i++) await writer.set(`/busy/${i % 3}`, i)
    })()
    await waitFor(async () => (await kv.get('/busy/2'))[1] >= 3, 'writes to be going on')
    const watched = recorder()
    kv.watch('/busy/', watched.listener, { initial: true })
    await waitFor(() => watched.events.some((e) => e.type === 'ready'), 'ready')
    await waitFor(() => watched.events.length > 40, 'live writes')
    writing = false
    await writes
    // Per key: the snapshot's revision, then every later one, each once.
    for (const key of ['/busy/0', '/busy/1', '/busy/2']) {
      const [, last] = await kv.get(key)
      await waitFor(() => watched.state.get(key)?.[1] === last, `${key} to reach revision ${last}`)
      const seen = watched.events.flatMap((e) => (e.type === 'value' && e.key === key ? [e.revision] : []))
      const first = seen[0]!
      expect(seen).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i))
    }
    expect(watched.events.filter((e) => e.type === 'ready')).toHaveLength(1)
  })

  it('without initial: ready, then only later writes', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/n', 'old')
    const watched = recorder()
    const stop = kv.watch('/n', watched.listener)
    await waitFor(() => watched.events.length === 1, 'ready')
    await kv.set('/n', 'new')
    await waitFor(() => watched.events.length === 2, 'the write')
    expect(watched.events).toEqual([{ type: 'ready' }, { type: 'value', key: '/n', value: 'new', revision: 1 }])
    stop()
    stop() // twice is harmless
    await kv.set('/n', 'unseen')
    await waitFor(() => server.atomkv.stats().subscriptions === 0, 'the unsubscription')
    expect(watched.events).toHaveLength(2)
  })

  it('a second watcher with initial on a path already followed gets the state, the first sees nothing twice', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/t/a', 0)
    const first = recorder()
    kv.watch('/t/', first.listener, { initial: true })
    await waitFor(() => first.types().includes('ready'), 'the first ready')
    await kv.set('/t/a', 1)
    await waitFor(() => first.types().includes('/t/a:1'), 'the write')
    const second = recorder()
    kv.watch('/t/', second.listener, { initial: true })
    await waitFor(() => second.types().includes('ready'), 'the second ready')
    await kv.set('/t/a', 2)
    await waitFor(() => first.types().includes('/t/a:2') && second.types().includes('/t/a:2'), 'both to see it')
    expect(first.types()).toEqual(['/t/a:0', 'ready', '/t/a:1', '/t/a:2'])
    expect(second.types()).toEqual(['/t/a:1', 'ready', '/t/a:2'])
  })
})
