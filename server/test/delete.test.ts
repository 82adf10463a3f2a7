import { beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { startServer, TRANSPORTS, useTransport, waitFor } from '@atomkv/test-support'
import { encodeKey, post, put, set, SSEClient, type SSEEvent } from './helpers.js'

function del(base: string, key: string, revision?: number | string): Promise<Response> {
  const headers: Record<string, string> = revision === undefined ? {} : { 'x-revision': String(revision) }
  return fetch(base + encodeKey(key), { method: 'DELETE', headers })
}

async function read(base: string, key: string): Promise<[unknown, number] | 404> {
  const response = await fetch(base + encodeKey(key))
  if (response.status === 404) return 404
  return [await response.json(), Number(response.headers.get('x-revision'))]
}

/** The ids of a stream's events, with the event type of those that have one. */
const ids = (events: readonly SSEEvent[]) => events.map((e) => (e.event ? `${e.event}:${e.id ?? ''}` : e.id))

describe.each(TRANSPORTS)('DELETE (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('removes a key: 204, then it reads as missing and starts again at revision 0', async () => {
    const { url, atomkv } = await startServer()
    await set(url, '/d/k', 'a')
    await set(url, '/d/k', 'b')
    const answer = await del(url, '/d/k')
    expect(answer.status).toBe(204)
    expect(answer.headers.get('content-length')).toBeNull()
    expect(answer.headers.get('access-control-allow-origin')).toBe('*')
    expect(await answer.text()).toBe('')
    expect(await read(url, '/d/k')).toBe(404)
    expect(atomkv.stats().keys).toBe(0)
    expect((await put(url, '/d/k', 'c', 1)).status).toBe(409) // a missing key takes only revision 0
    expect((await put(url, '/d/k', 'c', 0)).status).toBe(200)
    expect(await read(url, '/d/k')).toEqual(['c', 0])
  })

  it('answers 404 for a missing key, with or without X-Revision', async () => {
    const { url } = await startServer()
    const answer = await del(url, '/nothing')
    expect(answer.status).toBe(404)
    expect(await answer.text()).toMatch(/no key "\/nothing"/)
    expect((await del(url, '/nothing', 0)).status).toBe(404)
    await set(url, '/once', 1)
    expect((await del(url, '/once')).status).toBe(204)
    expect((await del(url, '/once')).status).toBe(404)
  })

  it('compare-and-delete: only at the current revision, else 409 and the key stays', async () => {
    const { url } = await startServer()
    await set(url, '/c', 'a')
    await set(url, '/c', 'b') // revision 1
    for (const stale of [0, 2, -1, '99999999999999999999']) {
      const answer = await del(url, '/c', stale)
      expect(answer.status, `X-Revision ${stale}`).toBe(409)
      expect(await answer.text()).toMatch(/not the current revision of "\/c"/)
    }
    expect(await read(url, '/c')).toEqual(['b', 1])
    expect((await del(url, '/c', '+1')).status).toBe(204) // read as the original reads X-Revision
    expect(await read(url, '/c')).toBe(404)
  })

  it('refuses a malformed X-Revision or key with 400 and touches nothing', async () => {
    const { url } = await startServer()
    await set(url, '/c', 'a')
    for (const header of ['abc', '1.5', '']) {
      const answer = await del(url, '/c', header)
      expect(answer.status, `X-Revision ${JSON.stringify(header)}`).toBe(400)
      expect(await answer.text()).toMatch(/DELETE takes the current revision/)
    }
    expect((await fetch(`${url}/c/`, { method: 'DELETE' })).status).toBe(400)
    expect((await fetch(`${url}/a:b`, { method: 'DELETE' })).status).toBe(400)
    expect(await read(url, '/c')).toEqual(['a', 0])
  })

  it('is listed in Allow, and the preflight allows it', async () => {
    const { url } = await startServer()
    const preflight = await fetch(`${url}/k`, { method: 'OPTIONS' })
    expect(preflight.status).toBe(200)
    expect(preflight.headers.get('allow')).toBe('GET, POST, PUT, DELETE, OPTIONS')
    const patch = await fetch(`${url}/k`, { method: 'PATCH' })
    expect(patch.status).toBe(405)
    expect(patch.headers.get('allow')).toContain('DELETE')
  })
})

describe.each(TRANSPORTS)('removals on streams (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('sends a delete in order with the writes, on key and prefix streams: data null, revision -1', async () => {
    const { url } = await startServer()
    const onKey = await SSEClient.open(`${url}/s/k`)
    const onPrefix = await SSEClient.open(`${url}/s/`)
    const multi = await SSEClient.open(`${url}/.stream?sub=/s/k&sub=/other`, { accept: '*/*' })
    await set(url, '/s/k', 'a')
    await set(url, '/s/k', 'b')
    expect((await del(url, '/s/k')).status).toBe(204)
    await set(url, '/s/k', 'again')
    const expected = ['/s/k:0', '/s/k:1', '/s/k:-1', '/s/k:0']
    for (const stream of [onKey, onPrefix, multi]) {
      await stream.waitForEvents(4)
      expect(ids(stream.events)).toEqual(expected)
      expect(stream.events[2]!.data).toBe('null')
    }
  })

  it('reads, to a client of the original, as the key going to [null, -1]', async () => {
    // The original's script: `JSON.parse(event.data)` and `event.lastEventId.split(/:/)`.
    const { url } = await startServer()
    const stream = await SSEClient.open(`${url}/orig/`)
    await set(url, '/orig/x', { n: 1 })
    await del(url, '/orig/x')
    await stream.waitForEvents(2)
    const seen = stream.events.map((event) => {
      const [key, revision] = event.id!.split(/:/)
      return [key, JSON.parse(event.data), Number(revision)]
    })
    expect(seen).toEqual([
      ['/orig/x', { n: 1 }, 0],
      ['/orig/x', null, -1],
    ])
  })

  it('sends an expiry as a removal, though nobody reads the key', async () => {
    const { url, atomkv } = await startServer({ expireAfterMs: 100 })
    const stream = await SSEClient.open(`${url}/e/`)
    await set(url, '/e/k', 1)
    // The sweep runs every second at most: the event comes from it, not from a read.
    await stream.waitForEvents(2, 10_000)
    expect(ids(stream.events)).toEqual(['/e/k:0', '/e/k:-1'])
    expect(atomkv.stats().keys).toBe(0)
  })

  it('leaves removed keys out of an initial snapshot', async () => {
    const { url } = await startServer()
    await set(url, '/i/a', 1)
    await set(url, '/i/b', 2)
    await del(url, '/i/a')
    const stream = await SSEClient.open(`${url}/i/?initial=1`)
    await stream.waitForEvents(2)
    expect(ids(stream.events)).toEqual(['/i/b:0', 'ready:/i/a:-1'])
  })
})

describe.each(TRANSPORTS)('resuming around removals (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  /**
   * Writes, deletes, re-creates and lets a key expire under `/r/`, read by
   * one stream from the start; then resumes from every id that stream got.
   * Each resume must either replay exactly what followed that event, or say
   * `reset` and send the current state: never skip, never repeat.
   */
  it('never skips or repeats an event, from any id of a stream', async () => {
    // Expiry follows a clock the test moves (timers stay real): /r/gone expires when it
    // says, and nothing else does while the resumes run, however slow the machine.
    vi.useFakeTimers({ toFake: ['Date'] })
    onTestFinished(() => void vi.useRealTimers())
    const { url } = await startServer({ expireAfterMs: 2000 })
    // `/marker` tells where each resumed stream's replay ends; the full stream sees every event in order.
    const streamUrl = `${url}/.stream?sub=/r/&sub=/marker`
    const full = await SSEClient.open(streamUrl, { accept: '*/*' })
    await set(url, '/r/gone', 'g0')
    await set(url, '/r/gone', 'g1')
    vi.setSystemTime(Date.now() + 2000)
    expect(await read(url, '/r/gone')).toBe(404)
    await set(url, '/r/a', 'a0')
    await set(url, '/r/a', 'a1')
    await del(url, '/r/a')
    await set(url, '/r/a', 'a0 again') // /r/a:0 a second time
    await set(url, '/r/b', 'b0')
    await del(url, '/r/b', 0)
    await set(url, '/r/a', 'a1 again') // /r/a:1 a second time
    await set(url, '/r/a', 'a2') // a revision the first /r/a never reached
    await set(url, '/r/gone', 'g0 again') // after its expiry: /r/gone:0 a second time
    await full.waitForEvents(12)
    const points = full.events.slice(0, 12)
    expect(ids(points)).toEqual([
      '/r/gone:0', '/r/gone:1', '/r/gone:-1',
      '/r/a:0', '/r/a:1', '/r/a:-1', '/r/a:0', '/r/b:0', '/r/b:-1', '/r/a:1', '/r/a:2', '/r/gone:0',
    ])

    const resets = new Set<string>()
    for (let i = 0; i < points.length; i++) {
      const resumed = await SSEClient.open(streamUrl, { accept: '*/*', 'last-event-id': points[i]!.id! })
      await set(url, '/marker', i)
      const isMarker = (e: SSEEvent) => e.id?.startsWith('/marker:') && e.data === String(i)
      await waitFor(() => resumed.events.some(isMarker) && full.events.some(isMarker), `marker ${i}`)
      resumed.close()
      const got = resumed.events.slice(0, resumed.events.findIndex(isMarker) + 1)
      if (got[0]?.event === 'reset') {
        expect(JSON.parse(got[0].data), `reset after ${points[i]!.id} (event ${i})`).toEqual({ reason: 'ambiguous-id' })
        resets.add(points[i]!.id!)
        continue
      }
      const truth = full.events.slice(i + 1, full.events.findIndex(isMarker) + 1)
      expect(ids(got), `resumed after ${points[i]!.id} (event ${i})`).toEqual(ids(truth))
    }
    // The ids two events had reset; the others replay (/r/a:2: no removed generation of
    // /r/a reached 2; /r/a:-1: /r/a was removed once).
    expect([...resets].sort()).toEqual(['/r/a:0', '/r/a:1', '/r/gone:0'])
  })
})
