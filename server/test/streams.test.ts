import { connect } from 'node:net'
import { beforeEach, describe, expect, it } from 'vitest'
import { startServer, TRANSPORTS, useTransport, waitFor } from '@atomkv/test-support'
import { capturingLogger, post, range, revisionsOf, set, SSEClient } from './helpers.js'

describe.each(TRANSPORTS)('event streams (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('sends the head and a comment before any write', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/quiet`)
    const { headers } = stream.response
    expect(headers.get('content-type')).toBe('text/event-stream')
    expect(headers.get('cache-control')).toBe('no-cache')
    expect(headers.get('x-accel-buffering')).toBe('no')
    expect(headers.get('access-control-allow-origin')).toBe('*')
    expect(headers.get('access-control-expose-headers')).toBe('X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions')
    await waitFor(() => stream.comments.length > 0, 'the opening comment')
    expect(stream.raw).toBe(':ok\n\n')
  })

  it('sends a key stream only later writes', async () => {
    const { url } = await startServer()
    await set(url, '/k', 'before')
    const stream = await SSEClient.open(`${url}/k`)
    await set(url, '/other', 'not covered')
    await set(url, '/k', 'after')
    await stream.waitForEvents(1)
    expect(stream.events).toEqual([{ id: '/k:1', event: undefined, data: '"after"' }])
  })

  it('sends a prefix stream the keys below it, never a sibling that shares its spelling', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/p/`)
    await set(url, '/pq', 1)
    await set(url, '/p', 2)
    await set(url, '/p/a', 3)
    await set(url, '/pq/a', 4)
    await set(url, '/p/a/b', 5)
    await stream.waitForWrites(2)
    await set(url, '/p/z', 6)
    await stream.waitForWrites(3)
    expect(stream.writes().map((w) => [w.key, w.value])).toEqual([
      ['/p/a', 3],
      ['/p/a/b', 5],
      ['/p/z', 6],
    ])
  })

  it('streams Unicode keys', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/${encodeURIComponent('zoë')}/`)
    await set(url, '/zoë/数', 'ok')
    await stream.waitForWrites(1)
    expect(stream.writes()).toEqual([{ key: '/zoë/数', revision: 0, value: 'ok' }])
  })

  it('keeps a value with line breaks inside one data line', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/nl`)
    const value = 'line\nbreak\r\nid:/forged:1\n\ndata:x'
    await set(url, '/nl', value)
    await stream.waitForEvents(1)
    expect(stream.events).toHaveLength(1)
    expect(stream.writes()[0]!.value).toBe(value)
    expect(stream.raw.match(/\n/g)).toHaveLength(2 + 3)
  })

  it('delivers a burst of 1000 writes to one key in order, each once', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/burst`)
    for (let batch = 0; batch < 1000; batch += 25) {
      await Promise.all(range(1, 25).map((i) => set(url, '/burst', batch + i)))
    }
    await stream.waitForWrites(1000)
    expect(revisionsOf(stream.writes(), '/burst')).toEqual(range(0, 999))
  })

  it('refuses an invalid key or prefix with 400', async () => {
    const { url } = await startServer()
    for (const path of ['/a//', '/a:b/', '/a.b']) {
      const response = await fetch(url + path, { headers: { accept: 'text/event-stream' } })
      expect(response.status, path).toBe(400)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
    }
  })

  it('recognizes text/event-stream anywhere in Accept', async () => {
    const { url } = await startServer()
    await set(url, '/acc', 1)
    for (const accept of ['text/event-stream', 'application/json, text/event-stream;q=0.9', 'TEXT/EVENT-STREAM; charset=utf-8']) {
      const response = await fetch(`${url}/acc`, { headers: { accept } })
      expect(response.headers.get('content-type'), accept).toBe('text/event-stream')
      await response.body!.cancel()
    }
    for (const accept of ['application/json', 'text/event-stream;q=0', '*/*']) {
      const response = await fetch(`${url}/acc`, { headers: { accept } })
      expect(response.headers.get('content-type'), accept).toBe('application/json')
    }
  })

  it('sends a heartbeat comment on an idle stream', async () => {
    const { url } = await startServer({ heartbeatMs: 30 })
    const stream = await SSEClient.open(`${url}/idle`)
    await waitFor(() => stream.comments.filter((c) => c === '').length >= 2, 'two heartbeats')
    expect(stream.comments[0]).toBe('ok')
  })

  it('frees the subscription of a client that goes away', async () => {
    const { url, atomkv } = await startServer()
    const one = await SSEClient.open(`${url}/gone`)
    const two = await SSEClient.open(`${url}/.stream?sub=/gone&sub=/p/`)
    expect(atomkv.stats()).toMatchObject({ streams: 2, subscriptions: 3 })
    one.close()
    two.close()
    await waitFor(() => atomkv.stats().subscriptions === 0, 'the subscriptions to be freed')
    expect(atomkv.stats().streams).toBe(0)
    // Writes after that go nowhere and cost nothing.
    await set(url, '/gone', 1)
    expect(atomkv.stats().queuedBytes).toBe(0)
  })

  it('refuses a stream beyond maxStreams with 503', async () => {
    const { url } = await startServer({ maxStreams: 2 })
    await SSEClient.open(`${url}/a`)
    const second = await SSEClient.open(`${url}/b`)
    const third = await fetch(`${url}/c`, { headers: { accept: 'text/event-stream' } })
    expect(third.status).toBe(503)
    expect(third.headers.get('access-control-allow-origin')).toBe('*')
    second.close()
    await waitFor(async () => (await fetch(`${url}/.stats`).then((r) => r.json())).streams === 1, 'a free slot')
    await SSEClient.open(`${url}/c`)
  })
})

describe.each(TRANSPORTS)('one stream for many subscriptions (/.stream) (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('refuses a stream that would take the subscriptions of all streams past maxTotalSubscriptions', async () => {
    const { url, atomkv } = await startServer({ maxTotalSubscriptions: 5 })
    const first = await SSEClient.open(`${url}/.stream?sub=/a&sub=/b&sub=/c/`)
    const refused = await fetch(`${url}/.stream?sub=/d&sub=/e&sub=/f/`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(await refused.text()).toMatch(/at most 5 over all streams/)
    await SSEClient.open(`${url}/.stream?sub=/d&sub=/e/`)
    expect(atomkv.stats().subscriptions).toBe(5)
    first.close()
    await waitFor(() => atomkv.stats().subscriptions === 2, 'the first stream to leave')
    await SSEClient.open(`${url}/.stream?sub=/f&sub=/g&sub=/h/`)
  })

  it('carries 20 keys and 2 prefixes on one stream and receives every update', async () => {
    const { url, atomkv } = await startServer()
    const keys = range(0, 19).map((i) => `/m/k${i}`)
    const query = [...keys.map((k) => `sub=${k}`), 'sub=/x/', 'sub=/y/'].join('&')
    // No Accept header: a plain EventSource can open it.
    const stream = await SSEClient.open(`${url}/.stream?${query}`, { accept: '*/*' })
    expect(atomkv.stats()).toMatchObject({ streams: 1, subscriptions: 22 })

    const expected: string[] = []
    for (const key of [...keys, '/x/1', '/x/2/3', '/y/4', '/m/k99', '/z/1']) {
      await set(url, key, key)
      if (key !== '/m/k99' && key !== '/z/1') expected.push(key)
    }
    await stream.waitForWrites(expected.length)
    await set(url, '/m/k0', 'last')
    await stream.waitForWrites(expected.length + 1)
    expect(stream.writes().map((w) => w.key)).toEqual([...expected, '/m/k0'])
  })

  it('sends an event covered by two subscriptions once', async () => {
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/.stream?sub=/p/&sub=/p/a&sub=/p/a/&sub=/p/a`)
    await set(url, '/p/a', 1)
    await set(url, '/p/a/b', 2)
    await set(url, '/p/end', 3)
    await stream.waitForWrites(3)
    expect(stream.writes().map((w) => w.key)).toEqual(['/p/a', '/p/a/b', '/p/end'])
  })

  it('validates every entry and bounds their number', async () => {
    const { url } = await startServer({ maxSubscriptionsPerStream: 3 })
    const cases: Array<[string, RegExp]> = [
      ['', /at least one/],
      ['?sub=/a&sub=/a//b', /sub "\/a\/\/b": has an empty component/],
      ['?init=bad', /init "bad": must begin with/],
      ['?sub=/', /root/],
      ['?sub=/a&sub=/b&init=/c&init=/d', /too many subscriptions: 4/],
    ]
    for (const [query, problem] of cases) {
      const response = await fetch(`${url}/.stream${query}`)
      expect(response.status, query).toBe(400)
      expect(await response.text(), query).toMatch(problem)
    }
    const ok = await fetch(`${url}/.stream?sub=/a&sub=/b&init=/c`)
    expect(ok.status).toBe(200)
    await ok.body!.cancel()
  })

  it('gives init entries their current value, then ready, then live events', async () => {
    const { url } = await startServer()
    await set(url, '/i/a', 'a0')
    await set(url, '/i/b', 'b0')
    await set(url, '/plain', 'p0')
    const stream = await SSEClient.open(`${url}/.stream?init=/i/&sub=/plain`)
    await stream.waitForEvents(3)
    await post(url, '/plain', 'p1')
    await stream.waitForEvents(4)
    expect(stream.events).toEqual([
      { id: '/i/a:0', event: undefined, data: '"a0"' },
      { id: '/i/b:0', event: undefined, data: '"b0"' },
      { id: '/plain:0', event: 'ready', data: '{}' },
      { id: '/plain:1', event: undefined, data: '"p1"' },
    ])
  })
})

/**
 * Opens a stream of `session` on `prefix` whose reader has stopped, then writes
 * to `<prefix>a` until the server holds events for it (`streams` streams open then).
 */
async function stalledSession(
  server: { url: string; port: number; atomkv: { stats(): { streams: number; queuedBytes: number } } },
  session: string,
  prefix: string,
  streams: number,
): Promise<{ socket: ReturnType<typeof connect>; writes: number; pad: string }> {
  const socket = connect(server.port, '127.0.0.1')
  socket.pause()
  socket.write(`GET /.stream?sub=${prefix}&session=${session} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  await waitFor(() => server.atomkv.stats().streams === streams, 'the stalled stream')
  const pad = 'p'.repeat(8 * 1024)
  let writes = 0
  while (server.atomkv.stats().queuedBytes === 0) {
    if (writes === 5000) throw new Error('the stalled stream never queued anything')
    await set(server.url, `${prefix}a`, { n: writes++, pad })
  }
  return { socket, writes, pad }
}

describe.each(TRANSPORTS)('sessions (?session=) (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('retires the older stream of a session: it sends what it held, then ends', async () => {
    const { url, port, atomkv } = await startServer()
    const other = await SSEClient.open(`${url}/.stream?sub=/sess/&session=other`)
    // An older stream of session s1 whose reader has stopped: the server holds its events.
    const { socket: older, writes: held, pad } = await stalledSession({ url, port, atomkv }, 's1', '/sess/', 2)
    let writes = held

    const newer = await SSEClient.open(`${url}/.stream?sub=/sess/&session=s1`)
    // The older one still holds events: it counts until its reader has them.
    expect(atomkv.stats().streams).toBe(3)
    await set(url, '/sess/a', { n: writes++, pad })
    await newer.waitForWrites(1)
    expect(revisionsOf(newer.writes(), '/sess/a')).toEqual([writes - 1])

    // The older stream delivers every write it held, then its body ends (the chunked terminator).
    let text = ''
    older.setEncoding('utf8')
    older.on('data', (chunk: string) => (text += chunk))
    older.resume()
    await waitFor(() => text.endsWith('\r\n0\r\n\r\n'), 'the end of the older stream')
    const ids = [...text.matchAll(/^id:\/sess\/a:(\d+)$/gm)].map((m) => Number(m[1]))
    expect(ids).toEqual(range(0, writes - 2))
    await waitFor(() => atomkv.stats().streams === 2, 'the older stream to be forgotten once read')
    older.destroy()

    await other.waitForWrites(writes)
    expect(other.ended).toBe(false)
  })

  it('counts a replaced stream against maxStreams until it has sent what it held, and drops it past its grace', async () => {
    const logger = capturingLogger()
    const { url, port, atomkv } = await startServer({ maxStreams: 2, retiringGraceMs: 300, logger })
    // A stream of session s whose reader has stopped, with events queued for it.
    const { socket: stalled } = await stalledSession({ url, port, atomkv }, 's', '/cap/', 1)
    const newer = await SSEClient.open(`${url}/.stream?sub=/cap/&session=s`)
    // The replaced stream still holds its events: it counts, and what it holds counts.
    expect(atomkv.stats().streams).toBe(2)
    expect(atomkv.stats().queuedBytes).toBeGreaterThan(0)
    expect((await fetch(`${url}/.stream?sub=/other`)).status).toBe(503)
    // Its reader never reads: past the grace it is dropped, and its place is free.
    await waitFor(() => atomkv.stats().streams === 1, 'the replaced stream to be dropped')
    expect(logger.warnings.some((w) => w.includes('replaced'))).toBe(true)
    const third = await fetch(`${url}/.stream?sub=/other`, { headers: { accept: 'text/event-stream' } })
    expect(third.status).toBe(200)
    await third.body?.cancel()
    expect(newer.ended).toBe(false)
    stalled.destroy()
  })

  it('retires a key stream too, and refuses a session name past 128 characters', async () => {
    const { url, atomkv } = await startServer()
    const first = await SSEClient.open(`${url}/k?session=abc`)
    await SSEClient.open(`${url}/k?session=abc`)
    await waitFor(() => first.ended, 'the first stream to end')
    expect(first.error).toBeUndefined()
    expect(atomkv.stats().streams).toBe(1)
    const long = await fetch(`${url}/.stream?sub=/k&session=${'s'.repeat(129)}`)
    expect(long.status).toBe(400)
    expect(await long.text()).toMatch(/129 characters long \(at most 128\)/)
  })
})
