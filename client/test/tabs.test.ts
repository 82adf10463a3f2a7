// shareAcrossTabs: clients of several "tabs" (see tabs.ts) against a real
// server. Who leads is read from the server's side: the one whose fetch
// opened the stream.

import { afterEach, describe, expect, it } from 'vitest'
import { createClientIn, type AtomKVClient, type ClientOptions } from '../src/client.js'
import { AtomKVError, createClient } from '../src/index.js'
import { DEFAULT_MAX_SUBSCRIPTIONS as MAX_SUBSCRIPTIONS } from '../src/protocol/index.js'
import { startServer, waitFor } from '@atomkv/test-support'
import { countingFetch, gatedFetch, recorder, take } from './helpers.js'
import { Browser, type Tab } from './tabs.js'

const opened: AtomKVClient[] = []
afterEach(() => {
  for (const client of opened.splice(0)) client.close()
})

interface TabClient {
  tab: Tab
  client: AtomKVClient
  /** Streams this tab's client opened. */
  streams(): string[]
}

function openTab(browser: Browser, url: string, options: Partial<ClientOptions> = {}): TabClient {
  const tab = browser.tab()
  const counting = countingFetch()
  const client = createClientIn(
    { url, fetch: counting.fetch, retry: { minDelayMs: 20, maxDelayMs: 200 }, shareAcrossTabs: true, ...options },
    tab.env,
  )
  opened.push(client)
  return { tab, client, streams: counting.streams }
}

describe('shareAcrossTabs', () => {
  it('carries the watches of every tab on one stream, opened by one of them', async () => {
    const server = await startServer()
    const browser = new Browser()
    const tabs = [openTab(browser, server.url), openTab(browser, server.url), openTab(browser, server.url)]
    const records = tabs.map((t, i) => {
      const key = recorder()
      const prefix = recorder()
      t.client.watch(`/tabs/${i}`, key.listener)
      t.client.watch('/tabs/', prefix.listener)
      return { key, prefix }
    })
    await waitFor(() => tabs.every((t) => t.client.status === 'open'), 'every tab open')
    // A follower is open once the leader is, before its watches reach the stream: they follow writes made after their ready.
    await waitFor(() => records.every((r) => r.key.types().includes('ready') && r.prefix.types().includes('ready')), 'every watch ready')
    for (let i = 0; i < 3; i++) await server.atomkv.store.set(`/tabs/${i}`, JSON.stringify(i))
    await waitFor(() => records.every((r) => r.prefix.state.size === 3), 'every prefix watcher has 3 keys')
    records.forEach(({ key }, i) => expect(key.types()).toEqual(['ready', `/tabs/${i}:0`]))
    expect(server.atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 4 })
    expect(tabs.filter((t) => t.streams().length > 0)).toHaveLength(1)
  })

  it('gives a follower initial values and subscribe() iterators as without sharing', async () => {
    const server = await startServer()
    await server.atomkv.store.set('/it/a', '"a0"')
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    leader.client.watch('/other', () => {})
    await waitFor(() => leader.streams().length === 1, 'the first tab leads')
    const follower = openTab(browser, server.url)
    const initial = recorder()
    follower.client.watch('/it/', initial.listener, { initial: true })
    const iterator = follower.client.subscribe('/it/a')
    await iterator.ready
    await waitFor(() => initial.types().includes('ready'), 'initial state')
    expect(initial.types()).toEqual(['/it/a:0', 'ready'])
    await follower.client.set('/it/a', 'a1')
    await follower.client.set('/it/b', 'b1')
    expect(await take(iterator, 1)).toEqual([['/it/a', 'a1', 1]])
    await waitFor(() => initial.state.size === 2, 'both keys')
    expect(initial.types()).toEqual(['/it/a:0', 'ready', '/it/a:1', '/it/b:0'])
    expect(follower.streams()).toEqual([])
  })

  it('gives a follower the removals of keys, to watchers and iterators', async () => {
    const server = await startServer()
    await server.atomkv.store.set('/rm/a', '"a0"')
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    leader.client.watch('/other', () => {})
    await waitFor(() => leader.streams().length === 1, 'the first tab leads')
    const follower = openTab(browser, server.url)
    const watched = recorder()
    follower.client.watch('/rm/', watched.listener, { initial: true })
    const iterator = follower.client.subscribe('/rm/a')
    await iterator.ready
    await waitFor(() => watched.types().includes('ready'), 'initial state')
    expect(await leader.client.delete('/rm/a')).toBe(true)
    await follower.client.set('/rm/a', 'a again')
    expect(await take(iterator, 2)).toEqual([
      ['/rm/a', null, -1],
      ['/rm/a', 'a again', 0],
    ])
    await waitFor(() => watched.types().length === 4, 'the removal and the new write')
    expect(watched.types()).toEqual(['/rm/a:0', 'ready', 'delete:/rm/a', '/rm/a:0'])
    expect(follower.streams()).toEqual([])
  })

  it('drops a watch ended by a follower, even in the tick it began', async () => {
    const server = await startServer()
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    leader.client.watch('/kept', () => {})
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'the leader subscribed')
    const follower = openTab(browser, server.url)
    const stop = follower.client.watch('/follower', () => {})
    follower.client.watch('/never', () => {})() // watched and unwatched at once
    await waitFor(() => server.atomkv.stats().subscriptions === 2, 'the follower watch on the stream')
    stop()
    await waitFor(() => server.atomkv.stats().subscriptions === 1, 'the follower watch dropped')
    await waitFor(() => follower.client.status === 'closed', 'a follower with no watch is closed')
    expect(leader.client.status).toBe('open')
  })

  it('moves the stream to a follower when the leader closes, and tells watchers to resync', async () => {
    const server = await startServer()
    const browser = new Browser()
    const first = openTab(browser, server.url)
    first.client.watch('/move/', () => {})
    await waitFor(() => first.client.status === 'open', 'the first tab open')
    const second = openTab(browser, server.url)
    const watcher = recorder()
    second.client.watch('/move/', watcher.listener)
    const iterator = second.client.subscribe('/move/a')
    await iterator.ready
    await waitFor(() => watcher.types().includes('ready'), 'the watcher ready')

    // Writes on, while the leader goes away in the middle.
    let writes = 0
    const writing = (async () => {
      for (; writes < 300; writes++) await second.client.set(`/move/${writes % 2 ? 'a' : 'b'}`, writes)
    })()
    await waitFor(() => writes >= 100, '100 writes')
    first.client.close()
    await writing
    await waitFor(() => second.streams().length > 0 && second.client.status === 'open', 'the second tab leads')
    await waitFor(() => watcher.state.get('/move/a')?.[1] === 149 && watcher.state.get('/move/b')?.[1] === 149, 'the last writes')
    expect(server.atomkv.stats().streams).toBe(1)

    // In order and at most once between resets; one reset, and a ready after it.
    const events = watcher.types()
    expect(events.filter((e) => e === 'reset')).toHaveLength(1)
    for (const segment of events.join(' ').split('reset')) {
      for (const key of ['/move/a', '/move/b']) {
        const revisions = segment.split(' ').filter((e) => e.startsWith(key + ':')).map((e) => Number(e.split(':')[1]))
        expect(revisions).toEqual([...revisions].sort((x, y) => x - y).filter((r, i, all) => all.indexOf(r) === i))
      }
    }
    expect(events.slice(events.indexOf('reset')).filter((e) => e === 'ready')).toHaveLength(1)
    // The iterator: increasing revisions, ending at the last.
    const seen: number[] = []
    while (seen.at(-1) !== 149) seen.push((await take(iterator, 1))[0]![2])
    expect(seen).toEqual([...seen].sort((x, y) => x - y))
    expect(new Set(seen).size).toBe(seen.length)
  })

  it('gives a watch made as the leader leaves to the next leader', async () => {
    const server = await startServer()
    const browser = new Browser()
    const first = openTab(browser, server.url)
    first.client.watch('/between', () => {})
    await waitFor(() => first.client.status === 'open', 'the first tab open')
    const second = openTab(browser, server.url)
    second.client.watch('/between', () => {})
    await waitFor(() => second.client.status === 'open', 'the follower open')
    // And one made as soon as this tab sees the stream is gone, before the next leader's stream answers.
    const during = recorder()
    const stop = second.client.onStatus((status) => {
      if (status !== 'reconnecting') return
      stop()
      second.client.watch('/between/during', during.listener, { initial: true })
    })
    first.client.close()
    // In the same tick: the leader is gone, and this tab does not know yet (its watch goes to the old leader).
    const late = recorder()
    second.client.watch('/between/late', late.listener, { initial: true })
    await waitFor(() => late.types().includes('ready') && during.types().includes('ready'), 'both watches ready')
    await second.client.set('/between/late', 1)
    await second.client.set('/between/during', 1)
    await waitFor(() => late.state.size === 1 && during.state.size === 1, 'the writes')
    expect(late.types()).toEqual(['ready', '/between/late:0'])
    expect(during.types()).toEqual(['ready', '/between/during:0'])
    expect(second.streams()).toHaveLength(1)
  })

  it('moves the stream when the leading tab vanishes without a word, and follows its status', async () => {
    const server = await startServer()
    const browser = new Browser()
    const first = openTab(browser, server.url)
    first.client.watch('/gone', () => {})
    await waitFor(() => first.client.status === 'open', 'the first tab open')
    const second = openTab(browser, server.url)
    const statuses: string[] = []
    second.client.onStatus((status) => statuses.push(status))
    const watcher = recorder()
    second.client.watch('/gone', watcher.listener)
    // A watch without initial state follows writes made after its `ready`: wait for it, before and after the move.
    await waitFor(() => second.client.status === 'open' && watcher.types().includes('ready'), 'the follower ready')

    first.tab.crash()
    first.client.close() // its stream goes with the tab
    await waitFor(() => second.streams().length === 1, 'the second tab leads')
    await waitFor(() => watcher.types().join() === 'ready,reset,ready', 'the watch ready again on the new stream')
    await second.client.set('/gone', 'after')
    await waitFor(() => watcher.state.get('/gone')?.[0] === 'after', 'the write after the move')
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open'])
    expect(server.atomkv.stats().streams).toBe(1)
  })

  it('does not follow a late message of a leader that has gone', async () => {
    const server = await startServer()
    const browser = new Browser()
    const first = openTab(browser, server.url)
    first.client.watch('/late', () => {})
    await waitFor(() => first.client.status === 'open', 'the first tab open')
    const second = openTab(browser, server.url)
    second.client.watch('/late', () => {})
    await waitFor(() => second.client.status === 'open', 'the follower open')
    first.client.close()
    await waitFor(() => second.streams().length === 1 && second.client.status === 'open', 'the second tab leads')
    const third = openTab(browser, server.url)
    const thirds = recorder()
    third.client.watch('/late', thirds.listener)
    // Open as soon as it hears the leader is; its watch follows writes made after its ready, on the leader's stream.
    await waitFor(() => third.client.status === 'open' && thirds.types().includes('ready'), 'the third tab follows')
    // The tabs' channel: a hello gets the leader's answer.
    const channel = new BroadcastChannel('atomkv/3:' + server.url)
    const heard: { type?: string }[] = []
    channel.onmessage = (event) => heard.push(event.data)
    channel.postMessage({ type: 'hello', from: 'a test' })
    await waitFor(() => heard.some((message) => message.type === 'leader'), "the leader's answer")
    // A status message of an earlier leader, delivered after the new leader's (channels order only per sender).
    channel.postMessage({ type: 'leader', from: 'gone', since: 0, status: 'open' })
    channel.close()
    await second.client.set('/late', 'still here')
    await waitFor(() => thirds.state.get('/late')?.[0] === 'still here', 'the write through the real leader')
  })

  it('names its channel and locks atomkv/3:<url>, the version of the messages tabs exchange', async () => {
    const server = await startServer()
    const browser = new Browser()
    const tabs = [openTab(browser, server.url), openTab(browser, server.url)]
    for (const t of tabs) t.client.watch('/named', () => {})
    await waitFor(() => tabs.every((t) => t.client.status === 'open'), 'both tabs open')
    const held = browser.held()
    expect(held).toContain(`atomkv/3:${server.url}`) // the leader's
    expect(held.filter((name) => name.startsWith(`atomkv/3:${server.url}#`))).toHaveLength(2) // each tab's own
    expect(held).toHaveLength(3)
  })

  it('drops the watches of a follower whose tab vanished', async () => {
    const server = await startServer()
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    leader.client.watch('/mine', () => {})
    await waitFor(() => leader.client.status === 'open', 'the leader open')
    const follower = openTab(browser, server.url)
    for (let i = 0; i < 5; i++) follower.client.watch(`/theirs/${i}`, () => {})
    await waitFor(() => server.atomkv.stats().subscriptions === 6, "the follower's watches on the stream")
    follower.tab.crash()
    await waitFor(() => server.atomkv.stats().subscriptions === 1, "the follower's watches dropped")
  })

  it("mirrors the leader's connection status in every tab", async () => {
    const server = await startServer()
    const browser = new Browser()
    const gate = gatedFetch()
    const leader = openTab(browser, server.url, { fetch: gate.fetch })
    leader.client.watch('/status', () => {})
    await waitFor(() => leader.client.status === 'open', 'the leader open')
    const follower = openTab(browser, server.url)
    expect(follower.client.status).toBe('closed') // nothing watched yet
    const watcher = recorder()
    follower.client.watch('/status', watcher.listener)
    await waitFor(() => follower.client.status === 'open', 'the follower open')
    // The follower is open as soon as it hears the leader is, but the leader then reopens its stream to add the
    // follower's watch, a change that shows 'open' throughout: its watch's ready says that stream has answered,
    // so the outage below ends the stream the leader reads, not one it is leaving or one still on its way.
    await waitFor(() => watcher.types().includes('ready'), "the follower's watch on the leader's stream")
    gate.shut()
    server.atomkv.closeStreams()
    await waitFor(() => follower.client.status === 'reconnecting', 'the follower reconnecting')
    gate.open()
    await waitFor(() => follower.client.status === 'open', 'the follower open again')
    expect(follower.streams()).toEqual([])
  })

  it("hands a follower the leader's errors as AtomKVErrors", async () => {
    const server = await startServer({ maxSubscriptionsPerStream: 1 })
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    leader.client.watch('/one', () => {})
    await waitFor(() => leader.client.status === 'open', 'the leader open')
    const follower = openTab(browser, server.url)
    const errors: unknown[] = []
    follower.client.watch('/two', (event) => event.type === 'error' && errors.push(event.error))
    await waitFor(() => errors.length === 1, 'the error')
    expect(errors[0]).toBeInstanceOf(AtomKVError)
    // The leader has heard the server's limit of 1: it refuses the follower's key itself.
    expect(errors[0]).toMatchObject({ code: 'too-many-subscriptions', key: '/two' })
  })

  it('counts the keys of every tab against the one stream\'s limit', async () => {
    const server = await startServer()
    const browser = new Browser()
    const leader = openTab(browser, server.url)
    for (let i = 0; i < MAX_SUBSCRIPTIONS - 1; i++) leader.client.watch(`/${i}`, () => {})
    await waitFor(() => leader.client.status === 'open', 'the leader open')
    const follower = openTab(browser, server.url)
    const events: string[] = []
    const errors: unknown[] = []
    for (const key of ['/last', '/one-too-many']) {
      follower.client.watch(key, (event) => {
        events.push(`${key} ${event.type}`)
        if (event.type === 'error') errors.push(event.error)
      })
    }
    await waitFor(() => events.length === 2, 'an answer for both')
    expect(events.sort()).toEqual(['/last ready', '/one-too-many error'])
    expect(errors[0]).toMatchObject({ code: 'too-many-subscriptions', key: '/one-too-many' })
    expect(server.atomkv.stats().subscriptions).toBe(MAX_SUBSCRIPTIONS)
  })

  it('keeps its own stream where the browser APIs are missing (Node)', async () => {
    const server = await startServer()
    const client = createClient({ url: server.url, shareAcrossTabs: true })
    opened.push(client)
    const watcher = recorder()
    client.watch('/solo', watcher.listener)
    await waitFor(() => client.status === 'open', 'open')
    await client.set('/solo', 1)
    await waitFor(() => watcher.state.size === 1, 'the write')
  })
})
