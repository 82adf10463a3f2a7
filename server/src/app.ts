// The HTTP service as an h3 app: the original AtomKV protocol, its extensions,
// CORS on every answer, and short text/plain errors that never touch data.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import {
  HEADER,
  HEALTH_PATH,
  isPrefix,
  METRICS_PATH,
  keyProblem,
  MAX_KEY_LENGTH,
  MAX_SESSION_LENGTH,
  QUERY,
  STATS_PATH,
  STREAM_PATH,
} from '@atomkv/client/protocol'
import { H3, type H3Event } from 'h3'
import { toNodeHandler } from 'srvx/node'
import { readJSON } from './body.js'
import { flag, parseRevision, pathOf } from './request.js'
import { type Admit, type Answered, guardURL, methods, statusOf } from './routing.js'
import { Gate } from './gate.js'
import { corsPolicy } from './cors.js'
import { clientBundle } from './client-bundle.js'
import { INSPECTOR_OFF, INSPECTOR_PATHS, inspectorFile } from './inspector.js'
import { Hub } from './hub.js'
import { MemoryStore } from './memory-store.js'
import { Metrics } from './metrics.js'
import { NodeSink } from './node-sink.js'
import {
  type AtomKVOptions,
  checkInteger,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_STREAMS,
  DEFAULT_MAX_STREAMS_PER_CLIENT,
  DEFAULT_MAX_TOTAL_SUBSCRIPTIONS,
  DEFAULT_RETIRING_GRACE_MS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM,
  DEFAULT_MAX_VALUE_BYTES,
  resolveLogger,
} from './options.js'
import { corsOf, HANDLED, json, Refusal, quote, type Reply, reply, setCors, SSE_HEADERS, SSE_HEADERS_H2, textResponse, webResponse } from './reply.js'
import { WebSink } from './sink.js'
import { acceptsEventStream } from './sse.js'
import { type Store, StoreFullError, StoreReadError, StoreWriteError } from './store.js'

export interface AtomKVStats {
  /** Keys stored. */
  keys: number
  /** Open event streams. */
  streams: number
  /** Keys and prefixes watched, over all streams. */
  subscriptions: number
  /** Bytes of events waiting to be sent, over all streams. */
  queuedBytes: number
  /** The resume backlog. */
  backlog: { events: number; bytes: number }
}

/** A Node `(req, res)` handler, for HTTP/1 and HTTP/2 servers. */
export type NodeHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => unknown

export interface AtomKV {
  /**
   * The h3 app, to mount in a larger one (`new H3().mount('/kv', atomkv.app)`).
   * Typed by what mounting needs, so that our declarations do not pull in h3's.
   */
  readonly app: { fetch(request: Request): Response | Promise<Response> }
  /** The service as a fetch handler. */
  readonly fetch: (request: Request) => Promise<Response>
  /** The service as a Node `(req, res)` handler, for `http.createServer` or connect-style middleware stacks. */
  readonly nodeHandler: NodeHandler
  readonly store: Store
  stats(): AtomKVStats
  /** Ends every open stream (clients reconnect and resume); returns how many there were. */
  closeStreams(): number
  /** Ends every stream, refuses new ones (503), stops the timers, and closes the store if this instance created it. */
  close(): Promise<void>
}

export function createAtomKV(options: AtomKVOptions = {}): AtomKV {
  checkInteger('maxValueBytes', options.maxValueBytes, 1)
  checkInteger('heartbeatMs', options.heartbeatMs, 0)
  checkInteger('maxQueueBytes', options.maxQueueBytes, 1)
  checkInteger('maxSubscriptionsPerStream', options.maxSubscriptionsPerStream, 1)
  checkInteger('maxStreams', options.maxStreams, 1)
  checkInteger('maxStreamsPerClient', options.maxStreamsPerClient, 0)
  checkInteger('maxDepth', options.maxDepth, 1)
  checkInteger('maxKeyLength', options.maxKeyLength, 2)
  if ((options.maxKeyLength ?? 0) > MAX_KEY_LENGTH) {
    throw new RangeError(`maxKeyLength can be at most ${MAX_KEY_LENGTH} (the protocol's), got ${options.maxKeyLength}`)
  }
  checkInteger('maxTotalSubscriptions', options.maxTotalSubscriptions, 1)
  checkInteger('retiringGraceMs', options.retiringGraceMs, 0)
  checkInteger('backlog.maxEvents', options.backlog?.maxEvents, 0)
  checkInteger('backlog.maxBytes', options.backlog?.maxBytes, 0)
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const maxSubscriptions = options.maxSubscriptionsPerStream ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS
  const maxStreamsPerClient = options.maxStreamsPerClient ?? DEFAULT_MAX_STREAMS_PER_CLIENT
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  const maxKeyLength = options.maxKeyLength ?? MAX_KEY_LENGTH
  /** The key rule, with this server's length limit (at most the protocol's). */
  const checkPath = (path: string, allowPrefix = false) =>
    path.length > maxKeyLength ? `longer than ${maxKeyLength} characters` : keyProblem(path, allowPrefix)
  const maxTotalSubscriptions = options.maxTotalSubscriptions ?? DEFAULT_MAX_TOTAL_SUBSCRIPTIONS
  const logger = resolveLogger(options.logger)
  // Access control and origins: nothing per request unless asked for (the original's default).
  const gate = options.authorize ? new Gate(options.authorize) : undefined
  const cors = corsPolicy(options.corsOrigins, gate !== undefined)
  const admit: Admit | undefined = cors.isDefault
    ? undefined
    : (event) => {
        const headers = event.req.headers
        const origin = headers.get('origin')
        const host = headers.get('host')
        setCors(event, cors.headersFor(origin, host))
        // Mounted behind other middleware (Vite's own CORS), headers set before ours would stay beside them.
        const res = event.runtime?.node?.res
        if (res && !res.headersSent) {
          res.removeHeader('access-control-allow-origin')
          res.removeHeader('access-control-allow-credentials')
        }
        // Missing CORS headers only keep a page from reading the answer; a
        // simple POST (text/plain, no preflight) would still be executed.
        if (!cors.allows(origin, host)) throw new Refusal(403, `forbidden: origin ${quote(origin!)} is not allowed (corsOrigins)`)
      }
  const ownsStore = !options.store
  const store: Store =
    options.store ?? new MemoryStore({ maxKeys: options.maxKeys, expireAfterMs: options.expireAfterMs })
  const hub = new Hub(store, {
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    retiringGraceMs: options.retiringGraceMs ?? DEFAULT_RETIRING_GRACE_MS,
    maxQueueBytes: options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES,
    maxStreams,
    maxTotalSubscriptions,
    maxStreamsPerClient,
    backlog: options.backlog ?? {},
    logger,
  })

  function stats(): AtomKVStats {
    return {
      keys: store.size(),
      streams: hub.streams,
      subscriptions: hub.subscriptions,
      queuedBytes: hub.queuedBytes,
      backlog: { events: hub.backlog.events, bytes: hub.backlog.bytes },
    }
  }

  let missingBundleLogged = false
  async function serveClient(event: H3Event): Promise<Reply> {
    const script = await clientBundle()
    if (script === undefined) {
      const problem = 'the browser build of @atomkv/client is missing'
      if (!missingBundleLogged) logger.error(`atomkv: GET / has no script to serve: ${problem}`)
      missingBundleLogged = true
      throw new Refusal(500, `${problem}: build it with \`pnpm --filter @atomkv/client build\``)
    }
    return reply(event, 200, script, ['content-type', 'application/javascript; charset=utf-8', 'cache-control', 'no-cache'])
  }

  /** The inspector's page, script and style: open like the client's script (the data they use is guarded as any request's). */
  const serveInspector = (path: string) => async (event: H3Event): Promise<Reply> => {
    if (!options.inspect) throw new Refusal(404, INSPECTOR_OFF, ['cache-control', 'no-cache'])
    let file
    try {
      file = await inspectorFile(path)
    } catch (error) {
      logger.error(`atomkv: cannot read the inspector's files`, error)
      throw new Refusal(500, `the inspector's files are missing from @atomkv/server`)
    }
    return reply(event, 200, file.body, file.headers)
  }

  async function read(event: H3Event): Promise<Reply> {
    const path = pathOf(event)
    if (acceptsEventStream(event.req.headers.get('accept'))) {
      const problem = checkPath(path, true)
      if (problem) throw new Refusal(400, `invalid key or prefix ${quote(path)}: ${problem}`)
      if (gate) await gate.check(event, 'read', path, true)
      return openStream(event, [path], flag(event.url.searchParams, QUERY.initial) ? [path] : [])
    }
    const problem = checkPath(path)
    if (problem) {
      const hint = isPrefix(path) ? ' (a prefix can only be watched, with Accept: text/event-stream)' : ''
      throw new Refusal(400, `invalid key ${quote(path)}: ${problem}${hint}`)
    }
    if (gate) await gate.check(event, 'read', path)
    let entry
    try {
      entry = await store.get(path)
    } catch (error) {
      throw unreadable(error)
    }
    if (!entry) throw new Refusal(404, `no key ${quote(path)}`, ['cache-control', 'no-cache'])
    return reply(event, 200, entry.json, [
      'content-type', 'application/json',
      HEADER.revision, String(entry.revision),
      'cache-control', 'no-cache',
    ])
  }

  async function write(event: H3Event): Promise<Reply> {
    const key = pathOf(event)
    const problem = checkPath(key)
    if (problem) throw new Refusal(400, `invalid key ${quote(key)}: ${problem}`)
    // Before the body is read: a refused write costs no body.
    if (gate) await gate.check(event, 'write', key)
    const header = event.req.method === 'PUT' ? event.req.headers.get(HEADER.revision) : undefined
    const revision = header === undefined ? undefined : parseRevision(header)
    const json = await readJSON(event, maxValueBytes, maxDepth)
    let entry
    try {
      entry = revision === undefined ? await store.set(key, json) : await store.update(key, json, revision)
    } catch (error) {
      if (error instanceof StoreFullError) throw new Refusal(507, `${error.message}: ${quote(key)} was not stored`)
      if (error instanceof StoreWriteError) throw new Refusal(503, `${error.message}; ${quote(key)} was not stored`)
      throw error
    }
    if (!entry) return conflict(event, key, `X-Revision ${header?.trim()} is not the next revision of ${quote(key)}`)
    return reply(event, 200, null, [HEADER.revision, String(entry.revision)])
  }

  /**
   * A compare-and-swap conflict. A client that accepts JSON (ours) gets the
   * key's current value and `X-Revision` (`null`, `-1`: missing), so its
   * retry needs no read; with access control, only with the right to read it.
   * Any other client gets the short text, as the original's did.
   */
  async function conflict(event: H3Event, key: string, why: string): Promise<Reply> {
    if (event.req.headers.get('accept')?.includes('application/json') && (await mayRead(event, key))) {
      let current
      try {
        current = await store.get(key)
      } catch (error) {
        throw unreadable(error)
      }
      return reply(event, 409, current?.json ?? 'null', [
        'content-type', 'application/json',
        HEADER.revision, String(current?.revision ?? -1),
        'cache-control', 'no-cache',
      ])
    }
    throw new Refusal(409, why)
  }

  /** A read the store could not make (a shared store out of reach) is a `503`, with why; anything else stays a 500. */
  function unreadable(error: unknown): unknown {
    return error instanceof StoreReadError ? new Refusal(503, error.message) : error
  }

  async function mayRead(event: H3Event, key: string): Promise<boolean> {
    if (!gate) return true
    try {
      await gate.check(event, 'read', key)
      return true
    } catch (error) {
      if (error instanceof Refusal) return false
      throw error
    }
  }

  /** DELETE, with an optional `X-Revision` that must be the current one (compare-and-delete). */
  async function remove(event: H3Event): Promise<Reply> {
    const key = pathOf(event)
    const problem = checkPath(key)
    if (problem) throw new Refusal(400, `invalid key ${quote(key)}: ${problem}`)
    if (gate) await gate.check(event, 'delete', key)
    const header = event.req.headers.get(HEADER.revision)
    const revision = header === null ? undefined : parseRevision(header, 'DELETE')
    let result
    try {
      result = await store.delete(key, revision)
    } catch (error) {
      if (error instanceof StoreWriteError) throw new Refusal(503, `${error.message}; ${quote(key)} was not deleted`)
      throw error
    }
    if (result === 'missing') throw new Refusal(404, `no key ${quote(key)}`)
    if (result === 'conflict') {
      throw new Refusal(409, `X-Revision ${header?.trim()} is not the current revision of ${quote(key)}`)
    }
    return reply(event, 204, null)
  }

  function multiplexed(event: H3Event): Reply | Promise<Reply> {
    const query = event.url.searchParams
    const subs = query.getAll(QUERY.sub)
    const inits = query.getAll(QUERY.init)
    const count = subs.length + inits.length
    if (count === 0) throw new Refusal(400, 'a stream needs at least one sub=<key or prefix> or init=<key or prefix>')
    if (count > maxSubscriptions) {
      throw new Refusal(400, `too many subscriptions: ${count} (at most ${maxSubscriptions} on one stream)`)
    }
    for (const [name, entries] of [['sub', subs], ['init', inits]] as const) {
      for (const entry of entries) {
        const problem = checkPath(entry, true)
        if (problem) throw new Refusal(400, `${name} ${quote(entry)}: ${problem}`)
      }
    }
    const subscriptions = [...new Set([...subs, ...inits])]
    const initial = flag(query, QUERY.initial) ? subscriptions : [...new Set(inits)]
    // Every subscription must be readable, or the stream is refused: never silently filtered.
    if (gate) return gate.check(event, 'read', subscriptions, true).then(() => openStream(event, subscriptions, initial))
    return openStream(event, subscriptions, initial)
  }

  function openStream(event: H3Event, subscriptions: string[], initial: string[]): Reply {
    const query = event.url.searchParams
    const lastEventId = event.req.headers.get(HEADER.lastEventId) || query.get(QUERY.lastEventId) || undefined
    const instance = query.get(QUERY.instance) || undefined
    // A session names a client's connection (a random id); longer is a mistake, and would bloat the session map.
    const session = query.get(QUERY.session) || undefined
    if (session && session.length > MAX_SESSION_LENGTH) {
      throw new Refusal(400, `session is ${session.length} characters long (at most ${MAX_SESSION_LENGTH})`)
    }
    const subscriber = hub.open({ subscriptions, initial, lastEventId, instance, session, client: event.req.ip })
    if (typeof subscriber === 'string') {
      const why = {
        closed: 'the service is shutting down',
        'store-unavailable': 'the store cannot be reached; retry shortly',
        'too-many-streams': `too many open streams (at most ${maxStreams})`,
        'too-many-from-client': `too many open streams from ${event.req.ip} (at most ${maxStreamsPerClient})`,
        'too-many-subscriptions': `too many subscriptions on the server (at most ${maxTotalSubscriptions} over all streams)`,
      }[subscriber]
      // One client past its share waits and retries; the server as a whole is full for everyone.
      if (subscriber === 'too-many-from-client') throw new Refusal(429, why, ['retry-after', '10'])
      throw new Refusal(503, why)
    }
    const head = [HEADER.instance, hub.instance, HEADER.maxSubscriptions, String(maxSubscriptions)]
    const node = event.runtime?.node
    const direct =
      node?.res &&
      NodeSink.open(
        node.req as IncomingMessage,
        node.res as ServerResponse,
        [...corsOf(event), ...SSE_HEADERS, ...head],
        subscriber,
      )
    if (direct) {
      subscriber.attach(direct)
      return HANDLED
    }
    const sink = new WebSink(subscriber)
    subscriber.attach(sink)
    const sse = node?.req.httpVersionMajor === 2 ? SSE_HEADERS_H2 : SSE_HEADERS
    return webResponse(sink.stream, 200, [...sse, ...head], corsOf(event))
  }

  const app = new H3({
    silent: true,
    onError(error, event) {
      // Before the routes ran (a malformed URL), the request's CORS headers are not known yet.
      const headers = corsOf(event, cors.fallback)
      if (error.status >= 500) {
        logger.error('atomkv: a request failed', error.cause ?? error)
        return textResponse(500, 'internal server error', headers)
      }
      return textResponse(error.status, error.status === 400 ? 'the URL is malformed' : error.message, headers)
    },
  })
  const metrics = new Metrics()
  const requestLog = options.requestLog
  const answered: Answered = (event, answer, started) => {
    const seconds = (performance.now() - started) / 1000
    const status = statusOf(event, answer)
    metrics.request(event.req.method, status, seconds)
    requestLog?.({
      time: new Date().toISOString(),
      method: event.req.method,
      path: event.url.pathname,
      status,
      ms: Math.round(seconds * 1e6) / 1e3,
      ip: event.req.ip,
    })
    return answer
  }
  const scrape = (event: H3Event) => {
    const gauges = {
      keys: store.size(),
      storedChars: store.chars?.(),
      streams: hub.streams,
      subscriptions: hub.subscriptions,
      queuedBytes: hub.queuedBytes,
      backlogEvents: hub.backlog.events,
      backlogBytes: hub.backlog.bytes,
      eventsSent: hub.eventsSent,
      cutOff: hub.cutOff,
    }
    return reply(event, 200, metrics.render(gauges), ['content-type', 'text/plain; version=0.0.4', 'cache-control', 'no-cache'])
  }
  /** With access control, what the whole store tells (stats, metrics) takes the right to read all of it: `read` on `/`. */
  const wholeStore =
    (handler: (event: H3Event) => Reply) =>
    (event: H3Event): Reply | Promise<Reply> =>
      gate ? gate.check(event, 'read', '/').then(() => handler(event)) : handler(event)
  app.all('/', methods({ GET: serveClient }, answered, admit))
  app.all(STREAM_PATH, methods({ GET: multiplexed }, answered, admit))
  app.all(STATS_PATH, methods({ GET: wholeStore((event) => json(event, stats())) }, answered, admit))
  app.all(METRICS_PATH, methods({ GET: wholeStore(scrape) }, answered, admit))
  app.all(
    HEALTH_PATH,
    methods(
      {
        GET: (event) => {
          if (hub.closed) throw new Refusal(503, 'shutting down')
          if (store.available?.() === false) throw new Refusal(503, 'the store cannot be reached')
          return json(event, { status: 'ok' })
        },
      },
      answered,
      admit,
    ),
  )
  for (const path of INSPECTOR_PATHS) app.all(path, methods({ GET: serveInspector(path) }, answered, admit))
  app.all('/**', methods({ GET: read, POST: write, PUT: write, DELETE: remove }, answered, admit))
  const handle = guardURL(app, cors.fallback)

  return {
    app,
    fetch: async (request) => handle(request),
    nodeHandler: toNodeHandler(handle) as NodeHandler,
    store,
    stats,
    closeStreams: () => hub.closeStreams(),
    async close() {
      hub.close()
      if (ownsStore) await store.close?.()
    },
  }
}
