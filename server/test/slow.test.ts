import { connect, type Socket } from 'node:net'
import { beforeEach, describe, expect, it } from 'vitest'
import { MemoryStore } from '../src/index.js'
import { lateSnapshotStore, startServer, TRANSPORTS, useTransport, waitFor } from '@atomkv/test-support'
import { capturingLogger, range, revisionsOf, set, SSEClient } from './helpers.js'

/** Opens a stream on a raw socket that never reads: the server sees a client that has stopped. */
function stalledStream(port: number, path: string): Socket {
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  return socket
}

describe.each(TRANSPORTS)('a subscriber that stops reading (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('is cut off at its bound while others get every event, and memory stays bounded', async () => {
    const bound = 64 * 1024
    const logger = capturingLogger()
    const { url, port, atomkv } = await startServer({ maxQueueBytes: bound, logger })
    const fast = await SSEClient.open(`${url}/slow`)
    const stalled = stalledStream(port, '/slow')
    const closed = new Promise((resolve) => stalled.once('close', resolve))
    await waitFor(() => atomkv.stats().streams === 2, 'both streams')

    const pad = 'x'.repeat(8 * 1024)
    let writes = 0
    let mostQueued = 0
    // The kernel's socket buffers fill first; then the stalled stream's queue grows to the bound.
    while (logger.warnings.length === 0) {
      if (writes === 5000) throw new Error('the stalled subscriber was never cut off')
      await set(url, '/slow', { n: writes++, pad })
      mostQueued = Math.max(mostQueued, atomkv.stats().queuedBytes)
    }
    expect(atomkv.stats().streams).toBe(1)
    for (let i = 0; i < 20; i++) await set(url, '/slow', { n: writes++, pad })

    // Each stream queues at most the bound: memory stays bounded however far a reader falls behind.
    expect(mostQueued).toBeGreaterThan(0)
    expect(mostQueued).toBeLessThanOrEqual(2 * bound)
    expect(logger.warnings).toHaveLength(1)
    expect(logger.warnings[0]).toMatch(/cut off stream #2 (from 127\.0\.0\.1 )?\(\/slow\) at \/slow:\d+/)
    expect(logger.warnings[0]).toContain(`${bound} bytes`)

    // The connection is dropped, not left half-open.
    stalled.resume()
    await closed

    await fast.waitForWrites(writes)
    expect(revisionsOf(fast.writes(), '/slow')).toEqual(range(0, writes - 1))
    await waitFor(() => atomkv.stats().queuedBytes === 0, 'the queues to drain')
  })

  it('sends a lone event larger than the bound to a stream that holds nothing, and keeps it open', async () => {
    const bound = 1024
    const logger = capturingLogger()
    const { url, atomkv } = await startServer({ maxQueueBytes: bound, logger })
    const stream = await SSEClient.open(`${url}/big`)
    await set(url, '/big', 'x'.repeat(8 * bound))
    await set(url, '/big', 'small')
    await stream.waitForWrites(2)
    expect(stream.writes().map((w) => (w.value as string).length)).toEqual([8 * bound, 5])
    expect(stream.ended).toBe(false)
    expect(atomkv.stats().streams).toBe(1)
    expect(logger.warnings).toEqual([])
  })

  it('queues a lone event larger than the bound while the stream opens, and keeps it open', async () => {
    const bound = 1024
    const logger = capturingLogger()
    // The snapshot is read late: the large write arrives while the stream is still opening, and waits in its queue.
    const { store, release } = lateSnapshotStore(new MemoryStore())
    const { url } = await startServer({ maxQueueBytes: bound, logger, store })
    const stream = await SSEClient.open(`${url}/big?initial=1`)
    await set(url, '/big', 'x'.repeat(8 * bound))
    release()
    await stream.waitForEvents(2)
    expect(stream.events.map((e) => e.event ?? e.data.length)).toEqual(['ready', 8 * bound + 2])
    expect(stream.ended).toBe(false)
    expect(logger.warnings).toEqual([])
  })

  it('resumes after being cut off, missing nothing', async () => {
    const bound = 32 * 1024
    const { url, port, atomkv } = await startServer({ maxQueueBytes: bound })
    const pad = 'y'.repeat(8 * 1024)
    await set(url, '/s/a', { n: -1, pad })
    // A client that has seen /s/a:0, then stops reading until it is cut off.
    const stalled = stalledStream(port, '/s/')
    await waitFor(() => atomkv.stats().streams === 1, 'the stream')
    let writes = 0
    while (atomkv.stats().streams === 1) {
      if (writes === 5000) throw new Error('the stalled subscriber was never cut off')
      await set(url, '/s/a', { n: writes++, pad })
    }
    stalled.destroy()
    // It reconnects with the last id it saw.
    const resumed = await SSEClient.open(`${url}/s/`, { 'last-event-id': '/s/a:0' })
    await resumed.waitForWrites(writes)
    expect(resumed.events.some((e) => e.event !== undefined)).toBe(false)
    expect(revisionsOf(resumed.writes(), '/s/a')).toEqual(range(1, writes))
  })
})

describe('a client that opens streams with many prefixes', () => {
  it('is held to the total bound while other clients are served, and what the server holds stays within it', async () => {
    const bound = 3000
    const { url, atomkv } = await startServer({ maxTotalSubscriptions: bound, maxStreamsPerClient: 0 })
    const prefixes = (stream: number) => Array.from({ length: 500 }, (_, i) => `sub=/many/s${stream}/p${i}/`).join('&')
    const open: AbortController[] = []
    let refused = 0
    for (let stream = 0; stream < 20; stream++) {
      const abort = new AbortController()
      const response = await fetch(`${url}/.stream?${prefixes(stream)}`, { signal: abort.signal })
      if (response.status === 503) {
        refused++
        expect(await response.text()).toMatch(/at most 3000 over all streams/)
      } else {
        expect(response.status).toBe(200)
        open.push(abort) // left open: its subscriptions stay
      }
    }
    expect(open).toHaveLength(6) // six streams of 500 fill the bound
    expect(refused).toBe(14)
    expect(atomkv.stats().subscriptions).toBe(bound)
    // Everyone else still reads and writes; one more stream is told why it is refused.
    expect(await set(url, '/other', 1)).toBe(0)
    expect(await (await fetch(`${url}/other`)).json()).toBe(1)
    expect((await fetch(`${url}/.stream?sub=/other`)).status).toBe(503)
    for (const abort of open) abort.abort()
    await waitFor(() => atomkv.stats().subscriptions === 0, 'the streams to close')
    await SSEClient.open(`${url}/other`)
  })
})
