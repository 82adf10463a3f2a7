// Streams written straight to the Node socket, checked on the wire: the
// chunked framing Node would have written, a connection that serves the next
// request once a stream ends, HTTP/1.0's close-delimited body, and a
// pipelined stream request (which takes the web stream path).

import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { startServer, waitFor } from '@atomkv/test-support'
import { rawConnection, set, SSEClient } from './helpers.js'

/** Splits an HTTP/1.1 chunked body into its chunks (as latin1 text); throws on bad framing. */
function chunksOf(body: string): { chunks: string[]; ended: boolean; rest: string } {
  const chunks: string[] = []
  let at = 0
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at)
    if (lineEnd === -1) return { chunks, ended: false, rest: body.slice(at) }
    const size = Number.parseInt(body.slice(at, lineEnd), 16)
    if (!Number.isInteger(size)) throw new Error(`bad chunk size line at ${at}: ${JSON.stringify(body.slice(at, at + 20))}`)
    if (size === 0) {
      if (body.slice(lineEnd, lineEnd + 4) !== '\r\n\r\n') return { chunks, ended: false, rest: body.slice(at) }
      return { chunks, ended: true, rest: body.slice(lineEnd + 4) }
    }
    const end = lineEnd + 2 + size
    if (body.length < end + 2) return { chunks, ended: false, rest: body.slice(at) }
    if (body.slice(end, end + 2) !== '\r\n') throw new Error(`chunk at ${at} does not end with CRLF`)
    chunks.push(body.slice(lineEnd + 2, end))
    at = end + 2
  }
}

const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8')

describe('streams written to the Node socket', () => {
  it('frames each event as one HTTP/1.1 chunk, ends with the last chunk, and keeps the connection for the next request', async () => {
    const { url, port, atomkv } = await startServer()
    const { socket, received } = rawConnection(port)
    socket.write('GET /wire/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    await waitFor(() => received().includes(':ok'), 'the opening comment')
    for (let i = 0; i < 3; i++) await set(url, `/wire/k${i}`, { n: i, text: 'zoë' })
    await waitFor(() => received().includes('id:/wire/k2:0'), 'the third event')

    const split = received().indexOf('\r\n\r\n')
    const [head, body] = [received().slice(0, split), received().slice(split + 4)]
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked')
    expect(head.toLowerCase()).toContain('access-control-allow-origin: *')
    expect(head.toLowerCase()).toContain('x-atomkv-instance:')
    const { chunks } = chunksOf(body)
    // Each chunk's size line counts bytes (the value holds a two-byte letter), and each live event is its own chunk.
    expect(chunks.map(utf8)).toEqual([
      ':ok\n\n',
      'id:/wire/k0:0\ndata:{"n":0,"text":"zoë"}\n\n',
      'id:/wire/k1:0\ndata:{"n":1,"text":"zoë"}\n\n',
      'id:/wire/k2:0\ndata:{"n":2,"text":"zoë"}\n\n',
    ])

    expect(atomkv.closeStreams()).toBe(1)
    await waitFor(() => chunksOf(received().slice(received().indexOf('\r\n\r\n') + 4)).ended, 'the last chunk')
    // The same connection answers another request.
    const before = received().length
    socket.write('GET /wire/k1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await waitFor(() => utf8(received().slice(before)).includes('{"n":1,"text":"zoë"}'), 'the answer on the same connection')
    expect(received().slice(before)).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    socket.destroy()
  })

  it('sends a snapshot handed over at once as one chunk per event, not one joined chunk', async () => {
    const { url, port } = await startServer()
    for (const key of ['a', 'b', 'c']) await set(url, `/snap/${key}`, key)
    const { socket, received } = rawConnection(port)
    socket.write('GET /snap/?initial=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    await waitFor(() => received().includes('event:ready'), 'the ready event')
    const { chunks } = chunksOf(received().slice(received().indexOf('\r\n\r\n') + 4))
    // The web stream path would hand the batch to Node as one write, so one chunk.
    expect(chunks).toEqual([
      ':ok\n\n',
      'id:/snap/a:0\ndata:"a"\n\n',
      'id:/snap/b:0\ndata:"b"\n\n',
      'id:/snap/c:0\ndata:"c"\n\n',
      'id:/snap/c:0\nevent:ready\ndata:{}\n\n',
    ])
    socket.destroy()
  })

  it('sends bare frames to an HTTP/1.0 client and closes the connection at the end', async () => {
    const { url, port, atomkv } = await startServer()
    const { socket, received, closed } = rawConnection(port)
    socket.write('GET /old HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n')
    await waitFor(() => received().includes(':ok'), 'the opening comment')
    await set(url, '/old', 'one')
    await waitFor(() => received().includes('data:"one"'), 'the event')
    atomkv.closeStreams()
    await closed
    const head = received().slice(0, received().indexOf('\r\n\r\n'))
    expect(head.toLowerCase()).not.toContain('transfer-encoding')
    expect(received().slice(head.length + 4)).toBe(':ok\n\nid:/old:0\ndata:"one"\n\n')
  })

  it('refuses the spellings a URL parser would rewrite into another key, and stores nothing', async () => {
    const { port, atomkv } = await startServer()
    for (const path of ['/a\\b', '/a/../b', '/a/./b', '/a/%2E%2E/b', '/a/..']) {
      const { socket, received, closed } = rawConnection(port)
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n1`)
      await closed
      // `/a/..` is routed as `/` (the script, GET only): refused too, with 405.
      expect(received(), path).toMatch(path === '/a/..' ? /^HTTP\/1\.1 405 / : /^HTTP\/1\.1 400 /)
      expect(received(), path).toContain('access-control-allow-origin: *')
    }
    expect(atomkv.stats().keys).toBe(0)
  })

  it('takes the key from an absolute-form request line, as a proxy sends it', async () => {
    const { url, port } = await startServer()
    const { socket, received, closed } = rawConnection(port)
    socket.write(`POST http://127.0.0.1:${port}/abs/k?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n7`)
    await closed
    expect(received()).toMatch(/^HTTP\/1\.1 200 /)
    expect(await (await fetch(`${url}/abs/k`)).json()).toBe(7)
  })

  it('answers 400 with CORS, not a bare 500, to a URL that cannot be parsed', async () => {
    const { port } = await startServer()
    for (const host of ['1.2.3.4.5', '127.e99990.0.1']) {
      const { socket, received, closed } = rawConnection(port)
      socket.write(`GET /a/../b HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      await closed
      expect(received(), host).toMatch(/^HTTP\/1\.1 400 /)
      expect(received(), host).toContain('access-control-allow-origin: *')
      expect(received(), host).toMatch(/the URL is malformed$/)
    }
  })

  it('lets only the address holding a session take it over', async () => {
    const { url, port, atomkv } = await startServer()
    const owner = rawConnection(port)
    owner.socket.write('GET /.stream?sub=/s/&session=mine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await waitFor(() => owner.received().includes(':ok'), 'the owner stream')
    // Another address (Linux routes all of 127/8 to loopback) names the same session.
    const other = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    let text = ''
    other.on('data', (chunk) => (text += chunk))
    other.write('GET /.stream?sub=/unrelated&session=mine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await waitFor(() => text.includes(':ok'), 'the other stream')
    await set(url, '/s/a', 'still here')
    await waitFor(() => owner.received().includes('data:"still here"'), 'the owner to keep its stream')
    expect(atomkv.stats().streams).toBe(2)
    // The same address still takes its own session over (a reconnecting client).
    const again = rawConnection(port)
    again.socket.write('GET /.stream?sub=/s/&session=mine HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await waitFor(() => chunksOf(owner.received().slice(owner.received().indexOf('\r\n\r\n') + 4)).ended, 'the owner stream to be retired')
    other.destroy()
    again.socket.destroy()
    owner.socket.destroy()
  })

  it('refuses a client address past maxStreamsPerClient with 429 and Retry-After, and serves other addresses', async () => {
    const { url, port, atomkv } = await startServer({ maxStreamsPerClient: 2 })
    const open = [await SSEClient.open(`${url}/a`), await SSEClient.open(`${url}/b`)]
    const refused = await fetch(`${url}/c`, { headers: { accept: 'text/event-stream' } })
    expect(refused.status).toBe(429)
    expect(refused.statusText).toBe('Too Many Requests')
    expect(refused.headers.get('retry-after')).toBe('10')
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(await refused.text()).toMatch(/too many open streams from 127\.0\.0\.1 \(at most 2\)/)
    // Another address still gets its streams.
    const other = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    let text = ''
    other.on('data', (chunk) => (text += chunk))
    other.write('GET /c HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    await waitFor(() => text.includes(':ok'), "the other address's stream")
    expect(atomkv.stats().streams).toBe(3)
    // A stream that ends frees its place.
    open[0]!.close()
    await waitFor(() => atomkv.stats().streams === 2, 'the first stream to end')
    await SSEClient.open(`${url}/c`)
    other.destroy()
  })

  it("answers a request Node's parser refuses with 400 and the CORS headers", async () => {
    const { port } = await startServer()
    for (const request of ['GET /zo\u00eb HTTP/1.1\r\nHost: x\r\n\r\n', 'NOT A REQUEST\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n']) {
      const { socket, received, closed } = rawConnection(port)
      socket.write(Buffer.from(request, 'utf8'))
      await closed
      expect(received(), JSON.stringify(request)).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
      expect(received(), JSON.stringify(request)).toContain('access-control-allow-origin: *')
    }
  })

  it('serves a stream pipelined behind another request on one connection', async () => {
    const { url, port } = await startServer()
    await set(url, '/pipe/a', 'first')
    const { socket, received } = rawConnection(port)
    socket.write(
      'GET /pipe/a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
        'GET /pipe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n',
    )
    await waitFor(() => received().includes(':ok'), 'the stream after the first answer')
    await set(url, '/pipe/a', 'second')
    await waitFor(() => received().includes('data:"second"'), 'the event')
    expect(received().indexOf('"first"')).toBeLessThan(received().indexOf(':ok'))
    socket.destroy()
  })

  it('counts what the socket has not sent against the bound, and frees it when the reader goes away', async () => {
    const bound = 64 * 1024
    const { url, port, atomkv } = await startServer({ maxQueueBytes: bound })
    const { socket } = rawConnection(port)
    socket.pause()
    socket.write('GET /full HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    await waitFor(() => atomkv.stats().streams === 1, 'the stream')
    const pad = 'q'.repeat(4 * 1024)
    let writes = 0
    let mostQueued = 0
    while (atomkv.stats().streams === 1) {
      if (writes === 5000) throw new Error('the stalled subscriber was never cut off')
      await set(url, '/full', { n: writes++, pad })
      mostQueued = Math.max(mostQueued, atomkv.stats().queuedBytes)
    }
    // The kernel's buffers took some; what the server held stayed within the socket's high-water mark plus the bound.
    expect(mostQueued).toBeGreaterThan(0)
    expect(mostQueued).toBeLessThanOrEqual(64 * 1024 + bound)
    expect(atomkv.stats().queuedBytes).toBe(0)
    socket.destroy()
  })
})
