// Random requests against a real server, checked against a model of the store.
// Seeded and bounded, so a failure reproduces: the seed and the shrunk
// request list are in the failure message. `pnpm fuzz` runs a long version
// (FUZZ_RUNS, FUZZ_SEED).
//
// Whatever is sent: no 5xx, CORS on every answer, a refused request changes
// nothing, a read returns the last accepted write, revisions only grow by one.

import { request as httpRequest } from 'node:http'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { startServer } from '@atomkv/test-support'

const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const MAX_VALUE_BYTES = 2048

interface Sent {
  method: string
  path: string
  headers: Record<string, string>
  body: Buffer | undefined
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

let sentCount = 0

/** One request over a fresh connection, with the path and headers exactly as given. */
function send(port: number, { method, path, headers, body }: Sent): Promise<Answer> {
  sentCount++
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, connection: 'close' } })
    req.on('response', (res) => {
      // A stream never ends by itself: its head is the answer; then the client goes away.
      if (res.headers['content-type'] === 'text/event-stream') {
        resolve({ status: res.statusCode!, headers: res.headers, body: '' })
        return req.destroy()
      }
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const component = fc.constantFrom('a', 'b', 'zoë', 'x_1', 'k-2', '3')
const validKey = fc.array(component, { minLength: 1, maxLength: 3 }).map((parts) => '/' + parts.join('/'))
const oddPath = fc.oneof(
  fc.constantFrom('/', '/a/', '//a', '/a//b', '/a/../b', '/a/./b', '/a\\b', '/a.b', '/a:b', '/a%20b', '/%E2%85%AB'),
  fc.constantFrom('/%', '/%zz', '/a%2Fb', '/%C0%AF', '/.stats', '/.health', '/.stream'),
  fc.integer({ min: 1000, max: 1100 }).map((n) => '/' + 'x'.repeat(n)),
  fc.string({ maxLength: 12 }).map((s) => '/' + encodeURIComponent(s)),
)
const path = fc.oneof({ weight: 4, arbitrary: validKey }, { weight: 1, arbitrary: oddPath })

const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))
const body = fc.oneof(
  { weight: 4, arbitrary: jsonValue.map((s) => Buffer.from(s)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      jsonValue.map((s) => Buffer.from(s.slice(0, Math.max(0, s.length - 1)))), // truncated
      fc.constant(Buffer.from([0x22, 0xff, 0xfe, 0x22])), // not UTF-8
      fc.integer({ min: 500, max: 3000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))), // deep
      fc.integer({ min: MAX_VALUE_BYTES, max: 3 * MAX_VALUE_BYTES }).map((n) => Buffer.from(JSON.stringify('y'.repeat(n)))),
      fc.constant(Buffer.from('1e400')),
      fc.constant(Buffer.alloc(0)),
    ),
  },
)
const revision = fc.oneof(
  fc.integer({ min: -2, max: 6 }).map(String),
  fc.constantFrom('', 'abc', '1.5', '+1', '0x1', '99999999999999999999', ' 2 '),
)

const requestArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path,
  revision: fc.option(revision, { nil: undefined }),
  body: fc.option(body, { nil: undefined }),
  accept: fc.constantFrom(undefined, '*/*', 'application/json', 'text/event-stream'),
  lastEventId: fc.option(fc.oneof(fc.constantFrom('/a:0', '/run0/a:1', ':', '/a:-1', 'x'.repeat(3000)), fc.string()), {
    nil: undefined,
  }),
  host: fc.constantFrom(undefined, '127.0.0.1', '1.2.3.4.5', '127.e99990.0.1'),
})

describe('the HTTP surface, fuzzed', () => {
  it(`keeps its promises over ${RUNS} random sequences (seed ${SEED})`, async () => {
    const server = await startServer({ maxValueBytes: MAX_VALUE_BYTES })
    const { port } = server
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 25 }), async (requests) => {
        // Each run works under its own prefix, so runs never see each other's keys.
        const scope = `/run${run++}`
        const model = new Map<string, { json: string; revision: number }>()
        for (const r of requests) {
          const scoped = r.path.startsWith('/.') || r.path === '/' ? r.path : scope + r.path
          const headers: Record<string, string> = {}
          if (r.revision !== undefined) headers['x-revision'] = r.revision
          if (r.accept) headers.accept = r.accept
          if (r.lastEventId !== undefined) headers['last-event-id'] = r.lastEventId
          if (r.host) headers.host = r.host
          if (r.body) headers['content-length'] = String(r.body.length)
          const sent: Sent = { method: r.method, path: scoped, headers, body: r.body }
          const answer = await send(port, sent)
          const what = `${r.method} ${scoped} ${JSON.stringify(headers)} → ${answer.status} ${answer.body.slice(0, 80)}`
          expect(answer.status, what).toBeLessThan(500)
          expect(answer.headers['access-control-allow-origin'], what).toBe('*')

          const key = decodeKey(scoped)
          if (key === undefined) continue
          const before = model.get(key)
          if (isWrite(r.method, answer.status)) {
            const written = Number(answer.headers['x-revision'])
            expect(written, what).toBe(before ? before.revision + 1 : 0)
            if (r.method === 'PUT') expect(Number(r.revision), what).toBe(written)
            model.set(key, { json: JSON.stringify(JSON.parse(r.body!.toString('utf8'))), revision: written })
          }
          // What the server holds for the key now is what the model says.
          const read = await send(port, { method: 'GET', path: scoped, headers: {}, body: undefined })
          const now = model.get(key)
          // 400: not a key at all (then nothing can have been stored under it).
          expect(read.status, `${what}; then GET`).toBe(now ? 200 : read.status === 400 ? 400 : 404)
          if (now) {
            expect(read.body, `${what}; then GET`).toBe(now.json)
            expect(Number(read.headers['x-revision']), `${what}; then GET`).toBe(now.revision)
          }
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    )
    console.log(`fuzz: ${sentCount} requests in ${RUNS} sequences (seed ${SEED}), no failure`)
  }, 600_000)
})

function isWrite(method: string, status: number): boolean {
  return (method === 'POST' || method === 'PUT') && status === 200
}

/** The key a scoped path names, if it is one the server could store (else `undefined`). */
function decodeKey(path: string): string | undefined {
  if (path === '/' || path.startsWith('/.') || path.includes('?')) return undefined
  try {
    return decodeURIComponent(path)
  } catch {
    return undefined
  }
}
