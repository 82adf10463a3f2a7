// Before measuring, both servers must give the right answers: a fast wrong
// server is no baseline. A short protocol walk; any difference throws.

import { JSON_HEADERS, request } from './http.js'
import { openStream } from './sse-client.js'

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': '*',
  'access-control-allow-headers': '*',
  'access-control-expose-headers': 'X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions',
}

export async function checkProtocol(server) {
  const fail = (what) => {
    throw new Error(`${server.kind} server answers wrongly: ${what}`)
  }
  const call = async (method, path, body, headers = {}) => {
    const answer = await request(server.port, method, path, { body, headers: { ...JSON_HEADERS, ...headers } })
    for (const [name, value] of Object.entries(CORS)) {
      if (answer.headers[name] !== value) fail(`${method} ${path}: ${name} is ${answer.headers[name]}`)
    }
    return answer
  }
  const expect = (answer, status, revision, what) => {
    if (answer.status !== status) fail(`${what}: status ${answer.status}, expected ${status}`)
    if (revision !== undefined && answer.headers['x-revision'] !== String(revision)) {
      fail(`${what}: X-Revision ${answer.headers['x-revision']}, expected ${revision}`)
    }
  }

  // A stream on the prefix, with initial state, opened before any write.
  const events = []
  let streamError = null
  let live
  const isLive = new Promise((resolve, reject) => (live = { resolve, reject }))
  const stream = openStream({
    port: server.port,
    path: '/check/?initial=1',
    onComment: () => live.resolve(),
    onEvent: (event) => events.push(event),
    onError: (error) => {
      streamError = error
      live.reject(error)
    },
  })
  try {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no :ok within 5 s')), 5000).unref())
    await Promise.race([isLive, timeout]).catch((error) => fail(`stream: ${error.message}`))

    expect(await call('POST', '/check/a', '{ "x": [1, 2], "s": "é" }'), 200, 0, 'POST /check/a')
    const read = await call('GET', '/check/a')
    expect(read, 200, 0, 'GET /check/a')
    if (read.text !== '{"x":[1,2],"s":"é"}') fail(`GET /check/a: body ${read.text} (not re-serialized)`)
    if (read.headers['content-type'] !== 'application/json') fail(`GET: content-type ${read.headers['content-type']}`)
    if (read.headers['cache-control'] !== 'no-cache') fail(`GET: cache-control ${read.headers['cache-control']}`)
    expect(await call('PUT', '/check/a', '1', { 'x-revision': '5' }), 409, undefined, 'PUT rev 5 of a key at 0')
    expect(await call('PUT', '/check/a', '2', { 'x-revision': '1' }), 200, 1, 'PUT rev 1 of a key at 0')
    expect(await call('GET', '/check/a'), 200, 1, 'GET after PUT')
    expect(await call('PUT', '/check/b', '3', { 'x-revision': '1' }), 409, undefined, 'PUT rev 1 of a missing key')
    expect(await call('PUT', '/check/b', '3', { 'x-revision': '0' }), 200, 0, 'PUT rev 0 of a missing key')
    expect(await call('GET', '/check/missing'), 404, undefined, 'GET of a missing key')
    expect(await call('POST', '/check/a', 'not json'), 400, undefined, 'POST of a body that is not JSON')

    const deadline = Date.now() + 5000
    while (events.length < 4 && !streamError && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    if (streamError) fail(`stream: ${streamError.message}`)
    const seen = events.map((e) => `${e.event} ${e.id ?? ''} ${e.data}`).join(' | ')
    const wanted = 'ready  {} | message /check/a:0 {"x":[1,2],"s":"é"} | message /check/a:1 2 | message /check/b:0 3'
    // Ours gives `ready` the id of the newest event (a resume point); the baseline has no resume.
    if (seen.replace(/^ready \S* /, 'ready  ') !== wanted) fail(`stream events: ${seen}`)

    // The same prefix again with initial state now sends both keys, oldest write first, then ready.
    const snapshot = await new Promise((resolve, reject) => {
      const got = []
      const timer = setTimeout(() => reject(new Error('no ready within 5 s')), 5000)
      const again = openStream({
        port: server.port,
        path: '/check/?initial=1',
        onEvent: (event) => {
          got.push(event.event === 'ready' ? 'ready' : `${event.id} ${event.data}`)
          if (event.event !== 'ready') return
          clearTimeout(timer)
          again.finish()
          resolve(got.join(' | '))
        },
        onError: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
    }).catch((error) => fail(`second stream: ${error.message}`))
    if (snapshot !== '/check/a:1 2 | /check/b:0 3 | ready') fail(`initial state: ${snapshot}`)
  } finally {
    stream.finish()
  }
}
