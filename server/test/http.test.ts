import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { IncomingHttpHeaders } from 'node:http'
import { beforeEach, describe, expect, it } from 'vitest'
import { startServer, TRANSPORTS, useTransport } from '@atomkv/test-support'
import { createAtomKV, type RequestLogEntry } from '../src/index.js'
import { encodeKey, post, put, SSEClient } from './helpers.js'

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': '*',
  'access-control-allow-headers': '*',
  'access-control-expose-headers': 'X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions',
}

function expectCors(response: Response): void {
  for (const [name, value] of Object.entries(CORS)) expect(response.headers.get(name), name).toBe(value)
}

describe.each(TRANSPORTS)('GET, POST and PUT (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('reads what was written, re-serialized, with its revision', async () => {
    const { url } = await startServer()
    const written = await fetch(`${url}/a`, { method: 'POST', body: '{ "a" : 1,\n "b": [ true , null ] }' })
    expect(written.status).toBe(200)
    expect(written.headers.get('x-revision')).toBe('0')
    expect(await written.text()).toBe('')
    expectCors(written)

    const read = await fetch(`${url}/a`)
    expect(read.status).toBe(200)
    expect(read.headers.get('content-type')).toBe('application/json')
    expect(read.headers.get('x-revision')).toBe('0')
    expect(read.headers.get('cache-control')).toBe('no-cache')
    expectCors(read)
    expect(await read.text()).toBe('{"a":1,"b":[true,null]}')
    // Each answer's status line has its reason phrase.
    expect([read.statusText, (await fetch(`${url}/none`)).statusText]).toEqual(['OK', 'Not Found'])
  })

  it('counts revisions across POST and PUT', async () => {
    const { url } = await startServer()
    const revision = async (r: Response) => [r.status, r.headers.get('x-revision')]
    expect(await revision(await post(url, '/n', 1))).toEqual([200, '0'])
    expect(await revision(await post(url, '/n', 2))).toEqual([200, '1'])
    expect(await revision(await put(url, '/n', 3, 2))).toEqual([200, '2'])

    const again = await put(url, '/n', 4, 2)
    expect(again.status).toBe(409)
    expectCors(again)
    expect(again.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await again.text()).toMatch(/next revision/)
    expect((await put(url, '/n', 4, -1)).status).toBe(409)
    expect((await put(url, '/n', 4, 0)).status).toBe(409)
    expect((await put(url, '/n', 4, '99999999999999999999999')).status).toBe(409)
    expect((await put(url, '/n', 4, ' 3 ')).status).toBe(200)

    const read = await fetch(`${url}/n`)
    expect(read.headers.get('x-revision')).toBe('3')
    expect(await read.json()).toBe(4)
  })

  it('answers a conflict with the current value and X-Revision to a client that accepts JSON, text to others', async () => {
    const { url } = await startServer()
    await post(url, '/c', { n: 1 })
    await post(url, '/c', { n: 2 })
    const asJson = (revision: number, key = '/c') =>
      fetch(url + key, { method: 'PUT', body: '0', headers: { 'x-revision': String(revision), accept: 'application/json' } })
    const conflict = await asJson(5)
    expect(conflict.status).toBe(409)
    expect(conflict.headers.get('content-type')).toBe('application/json')
    expect(conflict.headers.get('x-revision')).toBe('1')
    expect(await conflict.json()).toEqual({ n: 2 })
    const missing = await asJson(3, '/none')
    expect([missing.status, missing.headers.get('x-revision'), await missing.text()]).toEqual([409, '-1', 'null'])
    // As the original: a short text, whatever the key holds.
    const plain = await put(url, '/c', 0, 5)
    expect(plain.status).toBe(409)
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await plain.text()).toMatch(/not the next revision/)
    expect(await (await fetch(`${url}/c`)).json()).toEqual({ n: 2 }) // untouched
  })

  it('answers 400 to a missing or non-integer X-Revision, and stores nothing', async () => {
    const { url } = await startServer()
    await post(url, '/r', 'kept')
    const missing = await fetch(`${url}/r`, { method: 'PUT', body: '1' })
    expect(missing.status).toBe(400)
    expectCors(missing)
    expect(await missing.text()).toMatch(/X-Revision is missing/)
    for (const bad of ['abc', '1.5', '', '1e3', '0x1', '++1', '1_000']) {
      const response = await put(url, '/r', 'changed', bad)
      expect(response.status, `X-Revision ${JSON.stringify(bad)}`).toBe(400)
    }
    const named = await put(url, '/r', 'changed', 'abc')
    expect(await named.text()).toBe('X-Revision "abc" is not an integer; PUT needs the next revision number')
    // A huge header is quoted shortened: it cannot bloat the answer.
    const long = await put(url, '/r', 'changed', 'x'.repeat(5000))
    expect(await long.text()).toBe(`X-Revision "${'x'.repeat(80)}…" is not an integer; PUT needs the next revision number`)
    // Up to 80 characters, whole.
    const whole = await put(url, '/r', 'changed', 'y'.repeat(80))
    expect(await whole.text()).toBe(`X-Revision "${'y'.repeat(80)}" is not an integer; PUT needs the next revision number`)
    const read = await fetch(`${url}/r`)
    expect(await read.json()).toBe('kept')
    expect(read.headers.get('x-revision')).toBe('0')
  })

  it('reads X-Revision as the original does: a decimal integer with an optional sign', async () => {
    const { url } = await startServer()
    await post(url, '/signed', 'first')
    expect((await put(url, '/signed', 'second', '+1')).status).toBe(200)
    expect((await put(url, '/signed', 'third', '002')).status).toBe(200)
    expect((await put(url, '/signed', 'no', '-3')).status).toBe(409)
    expect(await (await fetch(`${url}/signed`)).json()).toBe('third')
  })

  it('creates a missing key with PUT only at revision 0', async () => {
    const { url } = await startServer()
    expect((await put(url, '/fresh', 1, 1)).status).toBe(409)
    expect((await fetch(`${url}/fresh`)).status).toBe(404)
    const created = await put(url, '/fresh', [0, 1], 0)
    expect(created.status).toBe(200)
    expect(created.headers.get('x-revision')).toBe('0')
  })

  it('answers 404 with a short text for a missing key', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/missing`)
    expect(response.status).toBe(404)
    expectCors(response)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await response.text()).toMatch(/missing/)
  })

  it('refuses a body that is not JSON, or empty, and keeps the stored value', async () => {
    const { url } = await startServer()
    await post(url, '/j', { ok: true })
    const refusals: [string, string][] = [
      ['{', 'the body is not valid JSON'],
      ['undefined', 'the body is not valid JSON'],
      ["{'a':1}", 'the body is not valid JSON'],
      ['\xff', 'the body is not valid JSON'],
      ['', 'the body is empty; expected JSON'],
    ]
    for (const [body, message] of refusals) {
      const response = await fetch(`${url}/j`, { method: 'POST', body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expectCors(response)
      expect(await response.text(), JSON.stringify(body)).toBe(message)
    }
    const none = await fetch(`${url}/j`, { method: 'POST' })
    expect([none.status, await none.text()]).toEqual([400, 'the body is empty; expected JSON'])
    const invalidUtf8 = await fetch(`${url}/j`, { method: 'POST', body: new Uint8Array([0x22, 0xff, 0x22]) })
    expect(invalidUtf8.status).toBe(400)
    expect(await invalidUtf8.text()).toMatch(/UTF-8/)
    // A number written with a long exponent that still fits is stored, and so is what lies beside it.
    const large = await fetch(`${url}/large`, { method: 'POST', body: '{"n":1e300,"s":"x","a":[true,null]}' })
    expect(large.status).toBe(200)
    expect(await (await fetch(`${url}/large`)).text()).toBe('{"n":1e+300,"s":"x","a":[true,null]}')
    // Would be stored as null.
    const huge = await fetch(`${url}/j`, { method: 'POST', body: '{"n":[1e400]}' })
    expect(huge.status).toBe(400)
    expect(await huge.text()).toMatch(/too large/)
    expect(await (await fetch(`${url}/j`)).json()).toEqual({ ok: true })
  })

  it('accepts any JSON value', async () => {
    const { url } = await startServer()
    for (const value of [null, 0, -1.5e-7, 'text', true, [], {}, { deep: [{ x: 'ü\n"' }] }]) {
      await post(url, '/any', value)
      expect(await (await fetch(`${url}/any`)).json()).toEqual(value)
    }
  })
})

describe.each(TRANSPORTS)('keys (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('accepts Unicode letters and digits, - and _', async () => {
    const { url } = await startServer()
    for (const key of ['/zoë/数', '/users/zoë/score', '/a-b_c/1/Ω']) {
      expect((await post(url, key, key)).status, key).toBe(200)
      const read = await fetch(url + encodeKey(key))
      expect(read.status).toBe(200)
      expect(await read.json()).toBe(key)
    }
  })

  it('refuses every invalid kind with 400 and a body naming the problem', async () => {
    const { url } = await startServer()
    const cases: Array<[string, RegExp]> = [
      ['/a//b', /empty component/],
      ['/a/', /must not end with "\/"/],
      ['/a:b', /letters, digits/],
      ['/a.b', /letters, digits/],
      ['/a%20b', /letters, digits/],
      // Letters and decimal digits only, as the original: not other number characters.
      ['/a%C2%B2', /letters, digits/],
      ['/%E2%85%AB', /letters, digits/],
      [`/${'x'.repeat(1100)}`, /longer than 1024/],
    ]
    for (const [path, problem] of cases) {
      for (const method of ['GET', 'POST', 'PUT']) {
        const response = await fetch(url + path, {
          method,
          ...(method === 'GET' ? {} : { body: '1', headers: { 'x-revision': '0' } }),
        })
        expect(response.status, `${method} ${path}`).toBe(400)
        expectCors(response)
        expect(await response.text(), `${method} ${path}`).toMatch(problem)
      }
    }
    expect(await (await fetch(`${url}/.stats`)).json()).toMatchObject({ keys: 0 })
  })

  it('answers 400 to a prefix without an event-stream Accept header', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/p/`)
    expect(response.status).toBe(400)
    expect(await response.text()).toMatch(/prefix can only be watched/)
  })

  it('answers 400 to malformed percent-encoding, with CORS', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/a%ZZ`)
    expect([response.status, await response.text()]).toEqual([400, 'the URL is malformed'])
    expectCors(response)
  })
})

describe.each(TRANSPORTS)('limits (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('refuses a body over maxValueBytes by its Content-Length with 413', async () => {
    const { url } = await startServer({ maxValueBytes: 1000 })
    await post(url, '/big', 'small')
    const response = await fetch(`${url}/big`, { method: 'POST', body: JSON.stringify('x'.repeat(2000)) })
    expect(response.status).toBe(413)
    expectCors(response)
    expect(await response.text()).toMatch(/larger than 1000 bytes/)
    // Exactly at the limit is fine.
    expect((await fetch(`${url}/big`, { method: 'POST', body: JSON.stringify('y'.repeat(998)) })).status).toBe(200)
    expect(await (await fetch(`${url}/big`)).json()).toBe('y'.repeat(998))
  })

  it('closes the connection after a 413 rather than read the rest of the body', async () => {
    const { url } = await startServer({ maxValueBytes: 1000 })
    const { request } = await import('node:http')
    const head = await new Promise<{ status: number | undefined; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request(`${url}/big`, { method: 'POST', headers: { 'content-length': '5000' } }, (res) => {
        res.resume()
        resolve({ status: res.statusCode, headers: res.headers })
      })
      req.on('error', reject)
      req.write('"' + 'x'.repeat(100)) // most of the declared body never comes
    })
    expect(head.status).toBe(413)
    expect(head.headers.connection).toBe('close')
  })

  it('refuses a key or prefix longer than maxKeyLength with 400', async () => {
    const { url } = await startServer({ maxKeyLength: 10 })
    expect((await post(url, '/123456789', 1)).status).toBe(200)
    const long = await post(url, '/1234567890', 1)
    expect(long.status).toBe(400)
    expect(await long.text()).toMatch(/longer than 10 characters/)
    const stream = await fetch(`${url}/.stream?sub=/123456789/`)
    expect(stream.status).toBe(400)
    expect(() => createAtomKV({ maxKeyLength: 2000 })).toThrow(/at most 1024/)
  })

  it('refuses a value nested deeper than maxDepth with a plain 400, and keeps the stored value', async () => {
    const { url } = await startServer()
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
    await post(url, '/deep', 'kept')
    for (const depth of [513, 100_000]) {
      const response = await fetch(`${url}/deep`, { method: 'POST', body: nested(depth) })
      expect(response.status, `depth ${depth}`).toBe(400)
      expectCors(response)
      expect(await response.text()).toBe('the body nests deeper than 512 levels')
    }
    expect(await (await fetch(`${url}/deep`)).json()).toBe('kept')
    expect((await fetch(`${url}/deep`, { method: 'POST', body: nested(512) })).status).toBe(200)
    // 512 levels with more than brackets in them (longer than the short cut for small bodies).
    const full = '['.repeat(512) + '"x"' + ']'.repeat(512)
    expect((await fetch(`${url}/deep`, { method: 'POST', body: full })).status).toBe(200)
    // A string before the deep part ends where its closing quote is: what follows still counts.
    const afterString = '["x", "y\\\\", ' + nested(600) + ']'
    const refused = await fetch(`${url}/deep`, { method: 'POST', body: afterString })
    expect(refused.status).toBe(400)
    expect(await refused.text()).toBe('the body nests deeper than 512 levels')
    // An escaped quote does not end a string: the brackets after it are still text.
    const escaped = JSON.stringify(['"' + nested(600)])
    expect((await fetch(`${url}/deep`, { method: 'POST', body: escaped })).status).toBe(200)
    // Closing brackets count down (both kinds: more than 512 of each), so many shallow siblings
    // are not deep; values at each level do not lower the count.
    const wide = JSON.stringify(Array.from({ length: 1200 }, (_, i) => (i % 2 ? [i] : { i })))
    expect((await fetch(`${url}/deep`, { method: 'POST', body: wide })).status).toBe(200)
    const deepWithValues = '[1,'.repeat(600) + '1' + ']'.repeat(600)
    expect((await fetch(`${url}/deep`, { method: 'POST', body: deepWithValues })).status).toBe(400)
    const deepObjects = '{"a":'.repeat(600) + '1' + '}'.repeat(600)
    expect((await fetch(`${url}/deep`, { method: 'POST', body: deepObjects })).status).toBe(400)
    // Brackets inside strings are text, not nesting.
    const text = JSON.stringify({ s: '['.repeat(5000) + '"\\' })
    expect((await fetch(`${url}/deep`, { method: 'POST', body: text })).status).toBe(200)
    expect(await (await fetch(`${url}/deep`)).text()).toBe(text)
  })

  it('refuses a chunked body without Content-Length once it passes maxValueBytes', async () => {
    const { url, atomkv } = await startServer({ maxValueBytes: 1000 })
    let sent = 0
    // A body that never ends: only a server that counts the bytes it reads can answer.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setImmediate(resolve))
        sent += 100
        controller.enqueue(new TextEncoder().encode(' '.repeat(100)))
      },
    })
    const response = await fetch(`${url}/chunked`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(413)
    expectCors(response)
    expect(await response.text()).toMatch(/larger than 1000 bytes/)
    expect(sent).toBeGreaterThan(1000)
    expect(atomkv.stats().keys).toBe(0)
  })

  it('refuses a new key with 507 once the store holds maxKeys, and still updates old ones', async () => {
    const { url } = await startServer({ maxKeys: 3 })
    for (const key of ['/k1', '/k2', '/k3']) expect((await post(url, key, 1)).status).toBe(200)
    const full = await post(url, '/k4', 1)
    expect(full.status).toBe(507)
    expectCors(full)
    expect(await full.text()).toMatch(/full/)
    expect((await put(url, '/k4', 1, 0)).status).toBe(507)
    expect((await post(url, '/k1', 2)).status).toBe(200)
    expect((await fetch(`${url}/k4`)).status).toBe(404)
  })

  it('drops keys not written for expireAfterMs', async () => {
    const { url, atomkv } = await startServer({ expireAfterMs: 150 })
    const written = Date.now()
    await post(url, '/old', 1)
    // Read at once it is there; on a loaded machine "at once" may already be past the expiry.
    const first = await fetch(`${url}/old`)
    if (first.status !== 200) expect(Date.now() - written, `${first.status} at once`).toBeGreaterThanOrEqual(150)
    const deadline = Date.now() + 5000
    while ((await fetch(`${url}/old`)).status !== 404) {
      if (Date.now() > deadline) throw new Error('the key never expired')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(atomkv.stats().keys).toBe(0)
    // Re-created, it starts over at revision 0.
    expect((await post(url, '/old', 2)).headers.get('x-revision')).toBe('0')
  })
})

describe.each(TRANSPORTS)('methods, CORS and the script (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('answers OPTIONS on any path with 200 and the CORS headers', async () => {
    const { url } = await startServer()
    for (const path of ['/', '/a', '/p/', '/a//b', '/.stream', '/.stats']) {
      const response = await fetch(url + path, {
        method: 'OPTIONS',
        headers: { origin: 'https://example.org', 'access-control-request-method': 'PUT' },
      })
      expect(response.status, path).toBe(200)
      expectCors(response)
      // Browsers may cache the preflight for a day.
      expect(response.headers.get('access-control-max-age'), path).toBe('86400')
      expect(response.headers.get('content-length'), path).toBe('0')
      expect(response.statusText, path).toBe('OK')
      expect(await response.text(), path).toBe('')
    }
    const allowed = async (path: string) => (await fetch(url + path, { method: 'OPTIONS' })).headers.get('allow')
    expect(await allowed('/a')).toBe('GET, POST, PUT, DELETE, OPTIONS')
    expect(await allowed('/.stats')).toBe('GET, OPTIONS')
  })

  it('answers other methods with 405 and the right Allow header', async () => {
    const { url } = await startServer()
    const cases: Array<[string, string, string]> = [
      ['PATCH', '/a', 'GET, POST, PUT, DELETE, OPTIONS'],
      ['DELETE', '/', 'GET, OPTIONS'],
      ['POST', '/', 'GET, OPTIONS'],
      ['PUT', '/.stream', 'GET, OPTIONS'],
      ['DELETE', '/.stats', 'GET, OPTIONS'],
    ]
    for (const [method, path, allow] of cases) {
      const response = await fetch(url + path, { method })
      expect(response.status, `${method} ${path}`).toBe(405)
      expect(response.headers.get('allow')).toBe(allow)
      expect(await response.text()).toBe(`${method} is not allowed here; allowed: ${allow}`)
      expectCors(response)
    }
  })

  const script = fileURLToPath(new URL('../../client/dist/atomkv.iife.js', import.meta.url))
  it('serves the browser client at GET /', async () => {
    // The global setup builds the client when its browser build is missing.
    expect(existsSync(script), `${script} should exist`).toBe(true)
    const { url } = await startServer()
    const response = await fetch(`${url}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8')
    expectCors(response)
    expect(await response.text()).toMatch(/AtomKV/)
  })

  it('reports stats as JSON', async () => {
    const { url } = await startServer()
    await post(url, '/s', 1)
    const response = await fetch(`${url}/.stats`)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('cache-control')).toBe('no-cache')
    expectCors(response)
    expect(await response.json()).toEqual({
      keys: 1,
      streams: 0,
      subscriptions: 0,
      queuedBytes: 0,
      backlog: { events: 1, bytes: expect.any(Number) },
    })
  })

  it('serves Prometheus metrics at /.metrics, and logs each request when asked', async () => {
    const log: RequestLogEntry[] = []
    const { url } = await startServer({ requestLog: (entry) => void log.push(entry) })
    const stream = await SSEClient.open(`${url}/m/`)
    const started = performance.now()
    await post(url, '/m/a', 'abc')
    const wall = performance.now() - started
    await put(url, '/m/a', 'no', 7)
    await fetch(`${url}/m/missing`)
    await stream.waitForWrites(1)
    const response = await fetch(`${url}/.metrics`)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4')
    expect(response.headers.get('cache-control')).toBe('no-cache')
    expectCors(response)
    const text = await response.text()
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.slice(line.length + 1))
    expect(value('atomkv_keys')).toBe(1)
    expect(value('atomkv_stored_bytes')).toBe('/m/a'.length + '"abc"'.length)
    expect(value('atomkv_streams')).toBe(1)
    expect(value('atomkv_subscriptions')).toBe(1)
    expect(value('atomkv_events_sent_total')).toBe(1)
    expect(value('atomkv_streams_cut_off_total')).toBe(0)
    expect(value('atomkv_backlog_events')).toBe(1)
    expect(value('atomkv_requests_total{method="POST",status="200"}')).toBe(1)
    expect(value('atomkv_requests_total{method="PUT",status="409"}')).toBe(1)
    expect(value('atomkv_requests_total{method="GET",status="404"}')).toBe(1)
    expect(value('atomkv_requests_total{method="GET",status="200"}')).toBe(1) // the stream
    expect(value('atomkv_request_duration_seconds_count')).toBe(4)
    expect(value('atomkv_request_duration_seconds_bucket{le="+Inf"}')).toBe(4)
    expect(log.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      'GET /m/ 200',
      'POST /m/a 200',
      'PUT /m/a 409',
      'GET /m/missing 404',
      'GET /.metrics 200',
    ])
    expect(log[1]).toMatchObject({ time: expect.any(String), ms: expect.any(Number) })
    // In milliseconds, to the microsecond: more than nothing, less than the client waited.
    expect(log[1]!.ms).toBeGreaterThan(0)
    expect(log[1]!.ms).toBeLessThanOrEqual(wall)
  })
})

describe('the fetch handler', () => {
  it('answers 400 to a body that fails while it is read, and stores nothing', async () => {
    // The fetch handler itself (an app server embedding it hands over such
    // a Request): a client cannot make a socket's body fail on purpose.
    const atomkv = createAtomKV()
    await atomkv.fetch(new Request('http://kv.test/broken', { method: 'POST', body: '"kept"' }))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('"half'))
        controller.error(new Error('connection lost'))
      },
    })
    const init = { method: 'POST', body, duplex: 'half' } as RequestInit
    const response = await atomkv.fetch(new Request('http://kv.test/broken', init))
    expect(response.status).toBe(400)
    expectCors(response)
    expect(await response.text()).toBe('the body could not be read')
    expect(await (await atomkv.fetch(new Request('http://kv.test/broken'))).text()).toBe('"kept"')
    await atomkv.close()
  })

  it('answers 400 to a write with no body at all', async () => {
    const atomkv = createAtomKV()
    const response = await atomkv.fetch(new Request('http://kv.test/none', { method: 'POST' }))
    expect([response.status, await response.text()]).toEqual([400, 'the body is empty; expected JSON'])
    await atomkv.close()
  })
})
