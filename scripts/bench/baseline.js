#!/usr/bin/env node
// The baseline: the same protocol on bare node:http, no framework, no limits,
// no resume, no heartbeat. It is what Node can practically do on this machine,
// so "ours / baseline" says what our features and layers cost.
//
//   node scripts/bench/baseline.js --addr 127.0.0.1:PORT
//
// Same status codes and response headers as ours for what the bench sends.
// Fan-out frames each event once, as one complete HTTP/1.1 chunk, and writes
// that one Buffer to every subscriber's socket.

import http from 'node:http'

const addr = process.argv[process.argv.indexOf('--addr') + 1] ?? ''
const [, host, port] = /^(.*):(\d+)$/.exec(addr) ?? []
if (!port) {
  process.stderr.write('usage: baseline.js --addr HOST:PORT\n')
  process.exit(2)
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': '*',
  'access-control-allow-headers': '*',
  'access-control-expose-headers': 'X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions',
}
const KEY = /^(?:\/[\p{L}\p{N}_-]+)+$/u
const PREFIX = /^(?:\/[\p{L}\p{N}_-]+)+\/$/u

/** key → { json, revision }; a write moves its key to the end, so iteration is oldest write first (as ours). */
const store = new Map()
/** key or prefix → Set of sockets streaming it. */
const streams = new Map()

/** One SSE frame wrapped as one complete chunk: `hex(len)\r\n<frame>\r\n`. */
function chunk(frame) {
  const body = Buffer.from(frame)
  return Buffer.concat([Buffer.from(body.length.toString(16) + '\r\n'), body, Buffer.from('\r\n')])
}
const eventFrame = (key, { json, revision }) => `id:${key}:${revision}\ndata:${json}\n\n`

/** An answer with no body (writes) or a short text/plain one (errors), with a Content-Length as ours. */
function send(res, status, body, headers = {}) {
  const type = body === '' ? {} : { 'content-type': 'text/plain; charset=utf-8' }
  res.writeHead(status, { ...CORS, ...type, 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

/** Commits a write and fans it out: one frame, one Buffer, written to every covered stream. */
function commit(key, json) {
  const old = store.get(key)
  const entry = { json, revision: old ? old.revision + 1 : 0 }
  store.delete(key)
  store.set(key, entry)
  let frame
  for (let at = key.length; at > 0; at = key.lastIndexOf('/', at - 1)) {
    // The key itself, then each enclosing prefix: /a/b/c, /a/b/, /a/.
    const subscribers = streams.get(at === key.length ? key : key.slice(0, at + 1))
    if (!subscribers) continue
    frame ??= chunk(eventFrame(key, entry))
    for (const socket of subscribers) socket.write(frame)
  }
  return entry
}

function openStream(req, res, path, initial) {
  // Node writes this head as is; the body bytes below go straight to the
  // socket, already chunked, so Node must not chunk them again.
  res.writeHead(200, {
    ...CORS,
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'transfer-encoding': 'chunked',
  })
  res.flushHeaders()
  const socket = res.socket
  socket.setNoDelay(true)
  let first = ':ok\n\n'
  if (initial) {
    const covers = path.endsWith('/') ? (key) => key.startsWith(path) : (key) => key === path
    for (const [key, entry] of store) if (covers(key)) first += eventFrame(key, entry)
    first += 'event:ready\ndata:{}\n\n'
  }
  socket.write(chunk(first))
  let subscribers = streams.get(path)
  if (!subscribers) streams.set(path, (subscribers = new Set()))
  subscribers.add(socket)
  socket.on('close', () => {
    subscribers.delete(socket)
    if (subscribers.size === 0 && streams.get(path) === subscribers) streams.delete(path)
  })
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  let path
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    return send(res, 400, 'the URL is malformed')
  }
  if (req.method === 'GET') {
    if ((req.headers.accept ?? '').includes('text/event-stream')) {
      if (!KEY.test(path) && !PREFIX.test(path)) return send(res, 400, 'invalid key or prefix')
      const flag = url.searchParams.get('initial')
      const initial = flag !== null && !['0', 'false', 'no'].includes(flag.toLowerCase())
      return openStream(req, res, path, initial)
    }
    if (!KEY.test(path)) return send(res, 400, 'invalid key')
    const entry = store.get(path)
    if (!entry) return send(res, 404, 'no key', { 'cache-control': 'no-cache' })
    res.writeHead(200, {
      ...CORS,
      'content-type': 'application/json',
      'x-revision': String(entry.revision),
      'cache-control': 'no-cache',
      'content-length': Buffer.byteLength(entry.json),
    })
    return res.end(entry.json)
  }
  if (req.method !== 'POST' && req.method !== 'PUT') return send(res, 405, 'method not allowed')
  if (!KEY.test(path)) return send(res, 400, 'invalid key')
  const header = req.headers['x-revision']
  if (req.method === 'PUT' && !/^-?\d+$/.test(header?.trim() ?? '')) return send(res, 400, 'X-Revision missing')
  const chunks = []
  req.on('data', (data) => chunks.push(data))
  req.on('end', () => {
    let json
    try {
      json = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')))
    } catch {
      return send(res, 400, 'the body is not valid JSON')
    }
    if (req.method === 'PUT') {
      const current = store.get(path)
      if (Number(header) !== (current ? current.revision + 1 : 0)) return send(res, 409, 'conflict')
    }
    send(res, 200, '', { 'x-revision': String(commit(path, json).revision) })
  })
})

server.listen(Number(port), host, () => console.log(`baseline listening on http://${addr}/`))
const stop = () => process.exit(0)
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
