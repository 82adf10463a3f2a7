// NodeSink on its own, over a real Node server and a real socket: what it
// counts as held, when it takes more, and that it stops at once when ended,
// which the HTTP tests only see through a whole stream.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeSink } from '../src/node-sink.js'
import { frame } from '../src/sse.js'
import { waitFor } from '@atomkv/test-support'
import { rawConnection } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

interface Opened {
  sink: NodeSink
  res: ServerResponse
  told: { writable: number; gone: number }
  /** The client's end of the connection. */
  client: Socket
  received: () => string
}

/** A stream answered by a NodeSink, read by a raw client socket. */
async function open(): Promise<Opened> {
  const told = { writable: 0, gone: 0 }
  const owner = { writable: () => void told.writable++, gone: () => void told.gone++ }
  let handed: (opened: { sink: NodeSink; res: ServerResponse }) => void
  const answered = new Promise<{ sink: NodeSink; res: ServerResponse }>((resolve) => (handed = resolve))
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    handed({ sink: NodeSink.open(req, res, ['content-type', 'text/event-stream'], owner)!, res })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { socket: client, received } = rawConnection((server.address() as AddressInfo).port)
  cleanups.push(() => {
    client.destroy()
    server.closeAllConnections()
    server.close()
  })
  client.write('GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  const { sink, res } = await answered
  return { sink, res, told, client, received }
}

describe('NodeSink', () => {
  it("counts what its socket has not sent as held, takes no more past 64 KiB, and more once it drains", async () => {
    const { sink, res, told, client } = await open()
    client.pause()
    const big = frame({ data: 'x'.repeat(16 * 1024) })
    // The kernel's buffers take some first; a bounded loop, in case they never fill.
    let writes = 0
    while (sink.writable && writes < 20_000) {
      sink.write(big)
      writes++
    }
    expect(sink.writable).toBe(false)
    expect(sink.buffered).toBe(res.socket!.writableLength)
    expect(sink.buffered).toBeGreaterThanOrEqual(64 * 1024)
    expect(told.writable).toBe(0)
    client.resume()
    await waitFor(() => told.writable > 0, 'the drain to be told')
    expect(sink.writable).toBe(true)
    expect(sink.buffered).toBeLessThan(64 * 1024)
  })

  it('takes nothing once ended, before its response has closed, and tells its owner once it has', async () => {
    const { sink, told, received } = await open()
    sink.write(frame({ data: '1' }))
    sink.end()
    expect(sink.writable).toBe(false)
    sink.end() // a second end is a no-op
    await waitFor(() => told.gone === 1, 'the response to close')
    await waitFor(() => received().endsWith('0\r\n\r\n'), 'the last chunk')
    expect(received()).toContain('\r\n\r\n8\r\ndata:1\n\n\r\n0\r\n\r\n')
  })

  it('takes nothing once aborted, and drops the connection', async () => {
    const { sink, told, client } = await open()
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    sink.abort()
    expect(sink.writable).toBe(false)
    sink.abort()
    await closed
    await waitFor(() => told.gone === 1, 'the response to close')
  })

  it('takes nothing once its reader has gone', async () => {
    const { sink, told, client } = await open()
    expect(sink.writable).toBe(true)
    client.destroy()
    await waitFor(() => told.gone === 1, 'the reader to be gone')
    expect(sink.writable).toBe(false)
  })

  it('leaves the socket as it found it once the response is over', async () => {
    const { sink, res, told } = await open()
    const socket = res.socket!
    const before = socket.listenerCount('drain')
    expect(before).toBeGreaterThan(0)
    sink.end()
    await waitFor(() => told.gone === 1, 'the response to close')
    expect(socket.listenerCount('drain')).toBe(before - 1)
  })
})
