import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createAtomKV, MemoryStore, serve } from '../src/index.js'
import { startServer, waitFor } from '@atomkv/test-support'
import { set, SSEClient } from './helpers.js'

describe('serve()', () => {
  it('closes promptly with streams open, ending them', async () => {
    const server = await serve({ port: 0, hostname: '127.0.0.1', logger: false })
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    const streams = await Promise.all([
      SSEClient.open(`${server.url}/a`),
      SSEClient.open(`${server.url}/.stream?sub=/b/`),
    ])
    // A client that has gone away without closing its connection, and one mid-request.
    streams[0]!.close()
    await server.close()
    // Closing ended every stream itself rather than wait for clients to leave.
    expect(server.atomkv.stats().streams).toBe(0)
    await waitFor(() => streams[1]!.ended, 'the open stream to end')
    await expect(fetch(`${server.url}/a`)).rejects.toThrow()
  })

  it('rejects when the port is taken', async () => {
    const first = await serve({ port: 0, hostname: '127.0.0.1', logger: false })
    await expect(serve({ port: first.port, hostname: '127.0.0.1', logger: false })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    })
    await first.close()
  })
})

describe('createAtomKV()', () => {
  it('serves fetch requests without a server', async () => {
    const atomkv = createAtomKV({ logger: false })
    const written = await atomkv.fetch(new Request('http://kv/a', { method: 'POST', body: '[1, 2]' }))
    expect(written.headers.get('x-revision')).toBe('0')
    const read = await atomkv.fetch(new Request('http://kv/a'))
    expect(await read.text()).toBe('[1,2]')
    expect(read.headers.get('access-control-allow-origin')).toBe('*')

    const stream = await atomkv.fetch(new Request('http://kv/a?initial=1', { headers: { accept: 'text/event-stream' } }))
    const reader = stream.body!.getReader()
    let text = ''
    while (!text.includes('event:ready')) text += new TextDecoder().decode((await reader.read()).value)
    expect(text).toBe(':ok\n\nid:/a:0\ndata:[1,2]\n\nid:/a:0\nevent:ready\ndata:{}\n\n')
    await reader.cancel()
    expect(atomkv.stats().streams).toBe(0)
    await atomkv.close()
  })

  it('serves Node requests through nodeHandler', async () => {
    const atomkv = createAtomKV({ logger: false })
    const server = createServer(atomkv.nodeHandler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const stream = await SSEClient.open(`${url}/n/`)
      expect(await set(url, '/n/1', 'node')).toBe(0)
      await stream.waitForWrites(1)
      expect(stream.writes()).toEqual([{ key: '/n/1', revision: 0, value: 'node' }])
      expect(atomkv.closeStreams()).toBe(1)
      await waitFor(() => stream.ended, 'the stream to end')
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await atomkv.close()
    }
  })

  it('drops a client that sends its headers too slowly, or its body, while others are served', async () => {
    const { url, port } = await startServer({ headersTimeoutMs: 300, requestTimeoutMs: 600 })
    const slow = (request: string) => {
      const socket = connect(port, '127.0.0.1')
      let text = ''
      socket.setEncoding('latin1')
      socket.on('data', (chunk: string) => (text += chunk))
      socket.write(request)
      // One more byte now and then: never the end of what it owes.
      const drip = setInterval(() => socket.write(request.endsWith('\r\n\r\n') ? '1' : 'x'), 50)
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      return { closed: closed.then(() => clearInterval(drip)), text: () => text }
    }
    const headers = slow('GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    const body = slow('POST /a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n')
    // Meanwhile the server answers everyone else. Node starts a connection's header clock
    // when it accepts it, so a process stalled for 300 ms right then (a loaded machine)
    // times out even a quick request: a 408 counts as wrong only if it came sooner.
    const started = performance.now()
    const fast = await set(url, '/fast', 1).catch((error: unknown) => error)
    if (typeof fast === 'number') expect(fast).toBe(0)
    else expect(performance.now() - started, `a quick request got ${String(fast)}`).toBeGreaterThanOrEqual(300)
    await Promise.all([headers.closed, body.closed])
    expect(headers.text()).toMatch(/^HTTP\/1\.1 408 /)
    expect(body.text()).toMatch(/^HTTP\/1\.1 408 /)
    expect(await (await fetch(`${url}/a`)).status).toBe(404)
  })

  it('closes connections past maxConnections at once', async () => {
    const { url, port } = await startServer({ maxConnections: 2 })
    const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')]
    await Promise.all(held.map((socket) => new Promise((resolve) => socket.once('connect', resolve))))
    const third = connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => third.once('close', () => resolve()))
    for (const socket of held) socket.destroy()
    await waitFor(async () => (await fetch(`${url}/.health`).catch(() => undefined))?.status === 200, 'room again')
  })

  it('answers /.health with 200 while serving and 503 once closing', async () => {
    const atomkv = createAtomKV({ logger: false })
    const healthy = await atomkv.fetch(new Request('http://x/.health'))
    expect(healthy.status).toBe(200)
    expect(healthy.headers.get('access-control-allow-origin')).toBe('*')
    expect(await healthy.json()).toEqual({ status: 'ok' })
    expect((await atomkv.fetch(new Request('http://x/.health', { method: 'POST' }))).status).toBe(405)
    await atomkv.close()
    const closing = await atomkv.fetch(new Request('http://x/.health'))
    expect([closing.status, await closing.text()]).toEqual([503, 'shutting down'])
  })

  it('closes the store it made on close, and leaves a store it was given open', async () => {
    const own = createAtomKV({ logger: false })
    const toldOwn: string[] = []
    own.store.subscribe((change) => void toldOwn.push(change.key))
    await own.close()
    await own.store.set('/x', '1')
    expect(toldOwn).toEqual([])

    const given = new MemoryStore()
    const toldGiven: string[] = []
    given.subscribe((change) => void toldGiven.push(change.key))
    await createAtomKV({ logger: false, store: given }).close()
    await given.set('/x', '1')
    expect(toldGiven).toEqual(['/x'])
    given.close()
  })

  it('refuses new streams once closed, and still answers reads', async () => {
    const atomkv = createAtomKV({ logger: false })
    await atomkv.fetch(new Request('http://kv/a', { method: 'POST', body: '1' }))
    await atomkv.close()
    const stream = await atomkv.fetch(new Request('http://kv/a', { headers: { accept: 'text/event-stream' } }))
    expect(stream.status).toBe(503)
    expect(await stream.text()).toMatch(/shutting down/)
    expect((await atomkv.fetch(new Request('http://kv/a'))).status).toBe(200)
  })

  it('refuses invalid options, naming the option, its least value and what it got', () => {
    // [option, least value]: one below it is refused, and a fraction.
    const limits = [
      ['maxValueBytes', 1],
      ['heartbeatMs', 0],
      ['maxQueueBytes', 1],
      ['maxSubscriptionsPerStream', 1],
      ['maxStreams', 1],
      ['maxStreamsPerClient', 0],
      ['maxDepth', 1],
      ['maxKeyLength', 2],
      ['maxTotalSubscriptions', 1],
      ['retiringGraceMs', 0],
    ] as const
    for (const [name, least] of limits) {
      for (const value of [least - 1, least + 0.5]) {
        expect(() => createAtomKV({ [name]: value })).toThrow(
          new RangeError(`${name} must be an integer of at least ${least}, got ${value}`),
        )
      }
      createAtomKV({ [name]: least, logger: false }).close()
    }
    for (const name of ['maxEvents', 'maxBytes'] as const) {
      expect(() => createAtomKV({ backlog: { [name]: -5 } })).toThrow(
        new RangeError(`backlog.${name} must be an integer of at least 0, got -5`),
      )
    }
    expect(() => createAtomKV({ maxKeys: 0 })).toThrow(/maxKeys/)
    createAtomKV({ maxKeyLength: 1024, logger: false }).close()
    expect(() => createAtomKV({ maxKeyLength: 1025 })).toThrow(
      new RangeError("maxKeyLength can be at most 1024 (the protocol's), got 1025"),
    )
  })
})

describe('mounted in a larger h3 app', () => {
  it('serves keys below the mount path', async () => {
    const { H3 } = await import('h3')
    const atomkv = createAtomKV({ logger: false })
    const outer = new H3().mount('/__atomkv', atomkv.app)
    outer.get('/hello', () => 'outer')
    const written = await outer.request('/__atomkv/users/zo%C3%AB', { method: 'POST', body: '"z"' })
    expect(written.status).toBe(200)
    expect(await atomkv.store.get('/users/zoë')).toEqual({ json: '"z"', revision: 0 })
    expect(await (await outer.request('/__atomkv/users/zo%C3%AB')).json()).toBe('z')
    expect((await outer.request('/__atomkv/users/')).status).toBe(400)
    expect(await (await outer.request('/__atomkv/.stats')).json()).toMatchObject({ keys: 1 })
    expect(await (await outer.request('/hello')).text()).toBe('outer')
    await atomkv.close()
  })
})

describe('over HTTP/2', () => {
  it('streams without the connection header HTTP/2 forbids, and answers without a status text', async () => {
    const { createServer: createH2Server, connect } = await import('node:http2')
    const atomkv = createAtomKV({ logger: false })
    const server = createH2Server(atomkv.nodeHandler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    // Node drops a connection header from an HTTP/2 response with a warning; none should be needed.
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const request = session.request({ ':path': '/h2', accept: 'text/event-stream' })
      const head = await new Promise<Record<string, unknown>>((resolve) => request.once('response', resolve))
      expect(head[':status']).toBe(200)
      expect(head['content-type']).toBe('text/event-stream')
      expect(head.connection).toBeUndefined()
      let received = ''
      request.on('data', (chunk: Buffer) => (received += chunk))
      await atomkv.store.set('/h2', '"two"')
      await waitFor(() => received.includes('data:"two"'), 'the event over HTTP/2')
      expect(received).toBe(':ok\n\nid:/h2:0\ndata:"two"\n\n')
      request.close()
      await waitFor(() => atomkv.stats().streams === 0, 'the stream to be freed')
      // Plain answers too: a status line's text is HTTP/1's alone (Node warns of one over HTTP/2).
      const ask = (headers: Record<string, string>, body?: string) =>
        new Promise<{ status: unknown; text: string }>((resolve, reject) => {
          const exchange = session.request(headers)
          let status: unknown
          let text = ''
          exchange.once('response', (head) => (status = head[':status']))
          exchange.on('data', (chunk: Buffer) => (text += chunk))
          exchange.once('end', () => resolve({ status, text }))
          exchange.once('error', reject)
          exchange.end(body)
        })
      expect(await ask({ ':method': 'POST', ':path': '/h2' }, '"three"')).toEqual({ status: 200, text: '' })
      expect(await ask({ ':path': '/h2' })).toEqual({ status: 200, text: '"three"' })
      expect(await ask({ ':path': '/missing' })).toMatchObject({ status: 404 })
      expect(warnings.map((w) => w.message)).toEqual([])
    } finally {
      process.off('warning', onWarning)
      session.destroy()
      await new Promise((resolve) => server.close(resolve))
      await atomkv.close()
    }
  })
})

describe('the Node request after a write', () => {
  it('is answered, and has none of the listeners reading its body left on it, whether the body was taken, too large or cut', async () => {
    const answered: string[] = []
    const atomkv = createAtomKV({ logger: false, maxValueBytes: 16, requestLog: (e) => void answered.push(`${e.method} ${e.status}`) })
    const events = ['data', 'end', 'error', 'close'] as const
    const left: string[][] = []
    let handled = 0
    const server = createServer((req, res) => {
      handled++
      const before = new Set(events.flatMap((name) => req.listeners(name)))
      // Once the request's own close handlers have run, too.
      res.once('close', () =>
        setImmediate(() => {
          // Leaving out Node's own clearIncoming, which finishes a request whose body the answer did not wait for.
          const ours = (f: Function) => !before.has(f) && f.name !== 'clearIncoming'
          left.push(events.flatMap((name) => req.listeners(name).filter(ours).map(() => name)))
        }),
      )
      void atomkv.nodeHandler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const raw = (request: string) => {
      const socket = connect(port, '127.0.0.1')
      socket.write(request)
      return socket
    }
    try {
      const url = `http://127.0.0.1:${port}`
      expect((await fetch(`${url}/k`, { method: 'POST', body: '1' })).status).toBe(200)
      // Chunked, so it is read until it passes the bound.
      const big = raw(`POST /k HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${'x'.repeat(100)}\r\n`)
      await waitFor(() => left.length === 2, 'the 413')
      big.destroy()
      const cut = raw('POST /k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n1')
      await waitFor(() => handled === 3, 'the third request to be read')
      cut.destroy()
      await waitFor(() => left.length === 3, 'the cut request to close')
      expect(left).toEqual([[], [], []])
      // The cut one is answered all the same (to nobody), not left pending.
      await waitFor(() => answered.length === 3, 'the third answer')
      expect(answered).toEqual(['POST 200', 'POST 413', 'POST 400'])
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await atomkv.close()
    }
  })
})

describe('behind middleware that set CORS headers first', () => {
  it("answers with its own origin policy only: another layer's allow-origin and allow-credentials are replaced or dropped", async () => {
    const atomkv = createAtomKV({ logger: false, corsOrigins: ['http://a.test'] })
    // As Vite's own CORS middleware does before ours runs.
    const server = createServer((req, res) => {
      res.setHeader('access-control-allow-origin', '*')
      res.setHeader('access-control-allow-credentials', 'true')
      void atomkv.nodeHandler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const response = await fetch(`http://127.0.0.1:${port}/k`, {
        method: 'POST',
        body: '1',
        headers: { origin: 'http://a.test' },
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('access-control-allow-origin')).toBe('http://a.test')
      expect(response.headers.get('access-control-allow-credentials')).toBe('true')
      // No Origin (not a browser): no CORS headers at all, not the other layer's.
      const plain = await fetch(`http://127.0.0.1:${port}/k`)
      expect(plain.status).toBe(200)
      expect(plain.headers.get('access-control-allow-origin')).toBeNull()
      expect(plain.headers.get('access-control-allow-credentials')).toBeNull()
    } finally {
      await atomkv.close()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
