// Access control over real HTTP: tokens with rights on prefixes (in the
// header and in the query), the authorize hook (sync, async, on a cookie),
// each operation and stream kind, the status codes and their CORS headers,
// and origin lists.

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { beforeEach, describe, expect, it } from 'vitest'
import { startServer, TRANSPORTS, useTransport } from '@atomkv/test-support'
import { type AccessRequest, type AccessTarget, type RequestLogEntry, serve, tokenAuth } from '../src/index.js'
import { capturingLogger, SSEClient } from './helpers.js'

const READER = 'reader-token-0001'
const WRITER = 'writer-token-0002'
const ADMIN = 'admin-token-00003'
const tokens = {
  tokens: {
    [READER]: { read: ['/public/', '/room/1/', '/exact'] },
    [WRITER]: { read: ['/room/'], write: ['/room/'] },
    [ADMIN]: { read: ['/'], write: ['/'] },
  },
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const write = (url: string, key: string, value: unknown, headers: Record<string, string> = {}) =>
  fetch(url + key, { method: 'POST', body: JSON.stringify(value), headers })

/** Opens a stream; resolves to the answer's status and text when it is refused. */
async function refusedStream(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

function expectOpenCors(response: { headers: Headers }): void {
  expect(response.headers.get('access-control-allow-origin')).toBe('*')
  expect(response.headers.get('access-control-allow-headers')).toBe('*, authorization')
  expect(response.headers.get('access-control-expose-headers')).toMatch(/X-AtomKV-Refused/)
}

describe.each(TRANSPORTS)('tokens (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it("gives a conflict's current value only to a token that may read the key", async () => {
    const blind = 'blind-writer-0004'
    const { url } = await startServer({
      authorize: tokenAuth({ tokens: { ...tokens.tokens, [blind]: { write: ['/drop/'] } } }),
    })
    await write(url, '/drop/box', 'secret', bearer(ADMIN))
    const swap = (token: string) =>
      fetch(`${url}/drop/box`, {
        method: 'PUT',
        body: '"guess"',
        headers: { ...bearer(token), 'x-revision': '7', accept: 'application/json' },
      })
    const told = await swap(ADMIN)
    expect([told.status, await told.text()]).toEqual([409, '"secret"'])
    const notTold = await swap(blind)
    expect(notTold.status).toBe(409)
    expect(notTold.headers.get('x-revision')).toBeNull()
    expect(await notTold.text()).not.toContain('secret')
  })

  it('answers 401 without a token or with an unknown one, 403 without the right, 200 with it', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    expect((await write(url, '/room/1/a', 1, bearer(WRITER))).status).toBe(200)

    const none = await fetch(`${url}/room/1/a`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="atomkv"')
    expect(none.headers.get('content-type')).toMatch(/^text\/plain/)
    expectOpenCors(none)
    expect(await none.text()).toBe('unauthenticated: no token or credentials to read "/room/1/a"')

    const unknown = await fetch(`${url}/room/1/a`, { headers: bearer('not-a-known-token') })
    expect(unknown.status).toBe(401)
    expect(await unknown.text()).toMatch(/not valid to read "\/room\/1\/a"/)

    const forbidden = await write(url, '/room/1/a', 2, bearer(READER))
    expect(forbidden.status).toBe(403)
    expectOpenCors(forbidden)
    expect(forbidden.headers.get('www-authenticate')).toBeNull()
    expect(await forbidden.text()).toBe('forbidden: not allowed to write "/room/1/a"')

    const read = await fetch(`${url}/room/1/a`, { headers: bearer(READER) })
    expect(read.status).toBe(200)
    expect(await read.json()).toBe(1)
    expectOpenCors(read)
    // Nothing was stored by the refused write.
    expect((await fetch(`${url}/room/1/a`, { headers: bearer(ADMIN) })).headers.get('x-revision')).toBe('0')
  })

  it('covers every key below a prefix right, exactly the key of a key right, everything with "/"', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    const status = async (key: string, token: string) => (await fetch(url + key, { headers: bearer(token) })).status
    expect(await status('/public/a/b/c', READER)).toBe(404) // allowed; the key does not exist
    expect(await status('/publicity', READER)).toBe(403)
    expect(await status('/exact', READER)).toBe(404)
    expect(await status('/exact/below', READER)).toBe(403)
    expect(await status('/room/2/x', READER)).toBe(403)
    expect(await status('/anything/at/all', ADMIN)).toBe(404)
    // Compare-and-swap is a write.
    const put = (token: string) => fetch(`${url}/room/9`, { method: 'PUT', body: '1', headers: { ...bearer(token), 'x-revision': '0' } })
    expect((await put(READER)).status).toBe(403)
    expect((await put(WRITER)).status).toBe(200)
  })

  it('asks the write right for a delete: 401 without a token, 403 without the right, 204 with it', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    expect((await write(url, '/room/1/d', 1, bearer(WRITER))).status).toBe(200)
    const remove = (headers: Record<string, string> = {}) => fetch(`${url}/room/1/d`, { method: 'DELETE', headers })
    const none = await remove()
    expect(none.status).toBe(401)
    expect(await none.text()).toBe('unauthenticated: no token or credentials to delete "/room/1/d"')
    const reader = await remove(bearer(READER))
    expect(reader.status).toBe(403)
    expectOpenCors(reader)
    expect(await reader.text()).toBe('forbidden: not allowed to delete "/room/1/d"')
    expect((await fetch(`${url}/room/1/d`, { headers: bearer(READER) })).status).toBe(200) // still there
    expect((await remove(bearer(WRITER))).status).toBe(204)
    expect((await fetch(`${url}/room/1/d`, { headers: bearer(READER) })).status).toBe(404)
  })

  it('takes the token from the query when there is no Authorization header', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    expect((await write(url, `/room/q?token=${WRITER}`, 'q')).status).toBe(200)
    expect(await (await fetch(`${url}/room/q?token=${READER}`)).status).toBe(403)
    expect(await (await fetch(`${url}/room/q?token=${WRITER}`)).json()).toBe('q')
    // The header wins over the query.
    expect((await fetch(`${url}/room/q?token=${WRITER}`, { headers: bearer(READER) })).status).toBe(403)
    // A scheme other than Bearer is no token.
    expect((await fetch(`${url}/room/q`, { headers: { authorization: `Basic ${WRITER}` } })).status).toBe(401)
  })

  it('refuses a stream of a key or a prefix the token may not read, and opens one it may', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    const none = await refusedStream(`${url}/room/1/`)
    expect(none.status).toBe(401)
    expect(none.headers.get('x-atomkv-refused')).toBe('/room/1/')
    expect(none.text).toMatch(/read "\/room\/1\/"/)
    // A prefix wider than the token's rights: refused, not filtered.
    const wider = await refusedStream(`${url}/room/`, bearer(READER))
    expect(wider.status).toBe(403)
    expect(wider.text).toBe('forbidden: not allowed to read "/room/"')
    expectOpenCors(wider)
    const key = await refusedStream(`${url}/secret`, bearer(READER))
    expect(key.status).toBe(403)

    const prefix = await SSEClient.open(`${url}/room/1/`, bearer(READER))
    const exact = await SSEClient.open(`${url}/exact?token=${READER}`)
    await write(url, '/room/1/a', 'a', bearer(WRITER))
    await write(url, '/exact', 'e', bearer(ADMIN))
    await prefix.waitForWrites(1)
    await exact.waitForWrites(1)
    expect(prefix.writes()).toEqual([{ key: '/room/1/a', revision: 0, value: 'a' }])
    expect(exact.writes()).toEqual([{ key: '/exact', revision: 0, value: 'e' }])
  })

  it('refuses /.stream unless every subscription is readable, naming the first refused one', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    const mixed = `${url}/.stream?sub=/public/&sub=/exact&init=/room/1/x&sub=/room/2/&sub=/secret`
    const refused = await refusedStream(mixed, bearer(READER))
    expect(refused.status).toBe(403)
    expect(refused.headers.get('x-atomkv-refused')).toBe('/room/2/')
    expect(refused.text).toBe('forbidden: not allowed to read "/room/2/"')
    // Non-ASCII keys travel percent-encoded in the header.
    const unicode = await refusedStream(`${url}/.stream?sub=${encodeURIComponent('/zoë/')}`, bearer(READER))
    expect(unicode.headers.get('x-atomkv-refused')).toBe('/zo%C3%AB/')

    await write(url, '/room/1/x', 'x0', bearer(WRITER))
    const stream = await SSEClient.open(`${url}/.stream?sub=/public/&sub=/exact&init=/room/1/x&token=${READER}`)
    await stream.waitForEvents(2) // the snapshot of /room/1/x, then ready
    await write(url, '/public/p', 'p', bearer(ADMIN))
    await stream.waitForWrites(2)
    expect(stream.writes().map((w) => w.key)).toEqual(['/room/1/x', '/public/p'])
  })

  it('checks a write before reading its body, and closes the connection instead of draining it', async () => {
    const { url, atomkv } = await startServer({ authorize: tokenAuth(tokens) })
    // A body that never ends: only a check made before reading it can answer.
    const head = await new Promise<{ status: number | undefined; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = httpRequest(`${url}/room/1/big`, { method: 'POST', headers: { ...bearer(READER), 'content-length': '900000' } }, (res) => {
        res.resume()
        resolve({ status: res.statusCode, headers: res.headers })
      })
      req.on('error', reject)
      req.write('"' + 'x'.repeat(100))
    })
    expect(head.status).toBe(403)
    if (transport === 'node') expect(head.headers.connection).toBe('close')
    expect(atomkv.store.size()).toBe(0)
    // A refused request without a body keeps its connection.
    const read = await fetch(`${url}/room/1/big`)
    expect(read.status).toBe(401)
    expect(read.headers.get('connection')).not.toBe('close')
  })

  it('keeps the script, /.health and preflights open; /.stats and /.metrics take a read of "/"', async () => {
    const { url } = await startServer({ authorize: tokenAuth(tokens) })
    expect((await fetch(`${url}/`)).status).toBe(200)
    expect((await fetch(`${url}/.health`)).status).toBe(200)
    const preflight = await fetch(`${url}/room/1/a`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-headers': 'authorization' },
    })
    expect(preflight.status).toBe(200)
    expectOpenCors(preflight)
    for (const path of ['/.stats', '/.metrics']) {
      expect((await fetch(url + path)).status, path).toBe(401)
      expect((await fetch(url + path, { headers: bearer(WRITER) })).status, path).toBe(403)
      expect((await fetch(url + path, { headers: bearer(ADMIN) })).status, path).toBe(200)
    }
  })
})

describe('tokenAuth and the option', () => {
  it('refuses a bad table, naming the entry', () => {
    expect(() => tokenAuth({ short: { read: ['/a/'] } })).toThrow(/tokens\["short"\] is too short/)
    expect(() => tokenAuth({ 'long-enough-token': { read: ['/a//'] } })).toThrow(
      /tokens\["long…"\]\.read\[0\] "\/a\/\/" is not a key or prefix: has an empty component/,
    )
    expect(() => tokenAuth({ 'long-enough-token': { admin: ['/'] } as never })).toThrow(/unknown field "admin"/)
    expect(() => tokenAuth({ 'long-enough-token': { write: '/a/' } as never })).toThrow(/write must be a list/)
    expect(() => tokenAuth({ 'with a space!': {} })).toThrow(/white space/)
  })

  it('does not log the token with --log-requests: the logged path has no query', async () => {
    const entries: RequestLogEntry[] = []
    const { url } = await startServer({ authorize: tokenAuth(tokens), requestLog: (entry) => void entries.push(entry) })
    await fetch(`${url}/room/1/a?token=${READER}`)
    await fetch(`${url}/room/1/a`, { headers: bearer(READER) })
    expect(entries.map((e) => [e.path, e.status])).toEqual([['/room/1/a', 404], ['/room/1/a', 404]])
    expect(JSON.stringify(entries)).not.toContain(READER)
  })
})

describe.each(TRANSPORTS)('the authorize hook (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('is asked for each operation and key with what identifies the caller, sync or async', async () => {
    const asked: [string, string, string | undefined, string | undefined][] = []
    const { url } = await startServer({
      authorize: async (request: AccessRequest, { operation, key }: AccessTarget) => {
        asked.push([operation, key, request.token, request.cookie('session')])
        await new Promise((resolve) => setTimeout(resolve, 1))
        return key !== '/no'
      },
    })
    await write(url, '/a', 1, { cookie: 'theme=dark; session=s%20one' })
    await fetch(`${url}/a?token=t1`)
    await fetch(`${url}/.stream?sub=/p/&sub=/no&sub=/never`, { headers: bearer('t2') })
    expect(asked).toEqual([
      ['write', '/a', undefined, 's one'],
      ['read', '/a', 't1', undefined],
      ['read', '/p/', 't2', undefined],
      ['read', '/no', 't2', undefined], // refused: the rest is not asked
    ])
  })

  it('lets an app check its own session cookie (sync), 401 without one, 403 outside its rights', async () => {
    const sessions = new Map([['alice-session', 'alice']])
    const { url } = await startServer({
      authorize(request, { operation, key }) {
        const user = sessions.get(request.cookie('sid') ?? '')
        if (!user) return 'unauthenticated'
        // Everyone reads /board/; a user writes only below their own name.
        return operation === 'read' ? key.startsWith('/board/') : key.startsWith(`/board/${user}/`)
      },
    })
    const alice = { cookie: 'sid=alice-session' }
    expect((await write(url, '/board/alice/1', 'hi', alice)).status).toBe(200)
    expect((await write(url, '/board/bob/1', 'hi', alice)).status).toBe(403)
    expect((await write(url, '/board/alice/1', 'hi', { cookie: 'sid=stolen' })).status).toBe(401)
    expect((await fetch(`${url}/board/alice/1`, { headers: alice })).status).toBe(200)
    expect((await refusedStream(`${url}/.stream?sub=/board/&sub=/admin/`, alice)).status).toBe(403)
    const stream = await SSEClient.open(`${url}/.stream?sub=/board/`, alice)
    await write(url, '/board/alice/2', 'two', alice)
    await stream.waitForWrites(1)
  })

  it('answers 500 when the hook throws, and logs it', async () => {
    const logger = capturingLogger()
    const { url } = await startServer({
      logger,
      authorize: () => {
        throw new Error('the session store is down')
      },
    })
    const response = await fetch(`${url}/a`)
    expect(response.status).toBe(500)
    expect(logger.errors).toEqual(['atomkv: a request failed'])
  })
})

describe.each(TRANSPORTS)('origin lists (%s)', (transport) => {
  beforeEach(() => useTransport(transport))
  const APP = 'https://app.example.com'

  it('answers a listed origin with its own name and Vary, refuses another, serves no origin', async () => {
    const { url } = await startServer({ corsOrigins: [APP, 'http://localhost:3000'] })
    const listed = await write(url, '/a', 1, { origin: APP })
    expect(listed.status).toBe(200)
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP)
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true')
    expect(listed.headers.get('vary')).toBe('Origin')
    expect(listed.headers.get('access-control-expose-headers')).toMatch(/X-Revision/)

    // A simple POST from another origin would run without preflight: it is refused, not only unreadable.
    const other = await fetch(`${url}/a`, { method: 'POST', body: '2', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' } })
    expect(other.status).toBe(403)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect(other.headers.get('vary')).toBe('Origin')
    expect(await other.text()).toBe('forbidden: origin "https://evil.example" is not allowed (corsOrigins)')
    expect((await refusedStream(`${url}/.stream?sub=/a&initial=1`, { origin: 'https://evil.example' })).status).toBe(403)
    const preflight = await fetch(`${url}/a`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()

    const plain = await fetch(`${url}/a`)
    expect(plain.status).toBe(200)
    expect(await plain.json()).toBe(1)
    expect(plain.headers.get('access-control-allow-origin')).toBeNull()

    const stream = await SSEClient.open(`${url}/a`, { origin: APP })
    expect(stream.response.headers.get('access-control-allow-origin')).toBe(APP)
  })

  it('keeps the default answers exactly as the original: any origin, no access control', async () => {
    const { url } = await startServer()
    const response = await write(url, '/a', 1, { origin: 'https://anywhere.example' })
    const cors = [...response.headers].filter(([name]) => name.startsWith('access-control') || name === 'vary')
    expect(cors).toEqual([
      ['access-control-allow-headers', '*'],
      ['access-control-allow-methods', '*'],
      ['access-control-allow-origin', '*'],
      ['access-control-expose-headers', 'X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions'],
    ])
  })

  it('refuses an origin list entry that is not an origin', async () => {
    await expect(startServer({ corsOrigins: ['https://app.example.com/'] })).rejects.toThrow(/did you mean "https:\/\/app.example.com"/)
  })
})

describe('the non-loopback warning', () => {
  it('warns when listening on every interface without access control, not on loopback or with it', async () => {
    const cases: [string | undefined, boolean, boolean][] = [
      ['0.0.0.0', false, true],
      [undefined, false, true],
      ['127.0.0.1', false, false],
      ['0.0.0.0', true, false],
    ]
    for (const [hostname, withAuth, warns] of cases) {
      const logger = capturingLogger()
      const server = await serve({ port: 0, hostname, logger, authorize: withAuth ? tokenAuth(tokens) : undefined })
      await server.close()
      const warned = logger.warnings.some((w) => /no access control/.test(w) && /--auth FILE/.test(w))
      expect(warned, `${hostname} auth=${withAuth}`).toBe(warns)
    }
  })
})
