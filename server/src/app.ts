// The HTTP service as an h3 app: the original AtomKV protocol, its extensions,
// CORS on every answer, and short text/plain errors that never touch data.

import { isPrefix, keyProblem } from '@atomkv/client'
import { H3, type H3Event, type NodeHandler, toNodeHandler } from 'h3'
import { clientBundle } from './client-bundle.js'
import { Hub } from './hub.js'
import { flag, json, quote, readJSON, readRevision, respond, SSE_HEADERS, SSE_HEADERS_H2, text } from './http.js'
import { MemoryStore } from './memory-store.js'
import {
  type AtomKVOptions,
  checkInteger,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_STREAMS,
  DEFAULT_MAX_SUBSCRIBER_BACKLOG_BYTES,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM,
  DEFAULT_MAX_VALUE_BYTES,
  resolveLogger,
} from './options.js'
import { acceptsEventStream } from './sse.js'
import { type Store, StoreFullError } from './store.js'

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

export interface AtomKV {
  /** The h3 app, to mount in a larger one. */
  readonly app: H3
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

/** A `session` names a client's connection (a random id); longer is a mistake, and would bloat the session map. */
const MAX_SESSION_LENGTH = 128

type Handler = (event: H3Event) => Response | Promise<Response>
type Method = 'GET' | 'POST' | 'PUT'

export function createAtomKV(options: AtomKVOptions = {}): AtomKV {
  checkInteger('maxValueBytes', options.maxValueBytes, 1)
  checkInteger('heartbeatMs', options.heartbeatMs, 0)
  checkInteger('maxSubscriberBacklogBytes', options.maxSubscriberBacklogBytes, 1)
  checkInteger('maxSubscriptionsPerStream', options.maxSubscriptionsPerStream, 1)
  checkInteger('maxStreams', options.maxStreams, 1)
  checkInteger('backlog.maxEvents', options.backlog?.maxEvents, 0)
  checkInteger('backlog.maxBytes', options.backlog?.maxBytes, 0)
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const maxSubscriptions = options.maxSubscriptionsPerStream ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS
  const logger = resolveLogger(options.logger)
  const ownsStore = !options.store
  const store =
    options.store ?? new MemoryStore({ maxKeys: options.maxKeys, expireAfterMs: options.expireAfterMs })
  const hub = new Hub(store, {
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    maxSubscriberBacklogBytes: options.maxSubscriberBacklogBytes ?? DEFAULT_MAX_SUBSCRIBER_BACKLOG_BYTES,
    maxStreams,
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
  async function serveClient(): Promise<Response> {
    const script = await clientBundle()
    if (script === undefined) {
      const problem = 'the browser build of @atomkv/client is missing'
      if (!missingBundleLogged) logger.error(`atomkv: GET / has no script to serve: ${problem}`)
      missingBundleLogged = true
      return text(500, `${problem}: build it with \`pnpm --filter @atomkv/client build\``)
    }
    return respond(script, 200, {
      'content-type': 'application/javascript; charset=utf-8',
      'cache-control': 'no-cache',
    })
  }

  async function read(event: H3Event): Promise<Response> {
    const path = pathOf(event)
    if (acceptsEventStream(event.req.headers.get('accept'))) {
      const problem = keyProblem(path, true)
      if (problem) return text(400, `invalid key or prefix ${quote(path)}: ${problem}`)
      return openStream(event, [path], flag(event.url.searchParams, 'initial') ? [path] : [])
    }
    const problem = keyProblem(path)
    if (problem) {
      const hint = isPrefix(path) ? ' (a prefix can only be watched, with Accept: text/event-stream)' : ''
      return text(400, `invalid key ${quote(path)}: ${problem}${hint}`)
    }
    const entry = await store.get(path)
    if (!entry) return text(404, `no key ${quote(path)}`, { 'cache-control': 'no-cache' })
    return respond(entry.json, 200, {
      'content-type': 'application/json',
      'x-revision': String(entry.revision),
      'cache-control': 'no-cache',
    })
  }

  async function write(event: H3Event): Promise<Response> {
    const key = pathOf(event)
    const problem = keyProblem(key)
    if (problem) return text(400, `invalid key ${quote(key)}: ${problem}`)
    let revision: number | undefined
    if (event.req.method === 'PUT') {
      const header = readRevision(event.req.headers.get('x-revision'))
      if (!header.ok) return header.response
      revision = header.revision
    }
    const body = await readJSON(event.req, maxValueBytes)
    if (!body.ok) return body.response
    try {
      const entry =
        revision === undefined ? await store.set(key, body.json) : await store.update(key, body.json, revision)
      if (!entry) {
        const sent = event.req.headers.get('x-revision')?.trim()
        return text(409, `X-Revision ${sent} is not the next revision of ${quote(key)}`)
      }
      return respond(null, 200, { 'x-revision': String(entry.revision) })
    } catch (error) {
      if (error instanceof StoreFullError) return text(507, `${error.message}: ${quote(key)} was not stored`)
      throw error
    }
  }

  function multiplexed(event: H3Event): Response {
    const query = event.url.searchParams
    const subs = query.getAll('sub')
    const inits = query.getAll('init')
    const count = subs.length + inits.length
    if (count === 0) return text(400, 'a stream needs at least one sub=<key or prefix> or init=<key or prefix>')
    if (count > maxSubscriptions) {
      return text(400, `too many subscriptions: ${count} (at most ${maxSubscriptions} on one stream)`)
    }
    for (const [name, entries] of [['sub', subs], ['init', inits]] as const) {
      for (const entry of entries) {
        const problem = keyProblem(entry, true)
        if (problem) return text(400, `${name} ${quote(entry)}: ${problem}`)
      }
    }
    const subscriptions = [...new Set([...subs, ...inits])]
    return openStream(event, subscriptions, flag(query, 'initial') ? subscriptions : [...new Set(inits)])
  }

  function openStream(event: H3Event, subscriptions: string[], initial: string[]): Response {
    const lastEventId =
      event.req.headers.get('last-event-id') || event.url.searchParams.get('last-event-id') || undefined
    const instance = event.url.searchParams.get('instance') || undefined
    const session = event.url.searchParams.get('session') || undefined
    if (session && session.length > MAX_SESSION_LENGTH) {
      return text(400, `session is ${session.length} characters long (at most ${MAX_SESSION_LENGTH})`)
    }
    const subscriber = hub.open({ subscriptions, initial, lastEventId, instance, session, client: event.req.ip })
    if (!subscriber) {
      return text(503, hub.closed ? 'the service is shutting down' : `too many open streams (at most ${maxStreams})`)
    }
    const node = event.runtime?.node
    if (node?.res) subscriber.onDrop = () => node.res?.destroy()
    return respond(subscriber.stream, 200, {
      ...(node?.req.httpVersionMajor === 2 ? SSE_HEADERS_H2 : SSE_HEADERS),
      'x-atomkv-instance': hub.instance,
    })
  }

  const app = new H3({
    silent: true,
    onError(error) {
      if (error.status >= 500) {
        logger.error('atomkv: a request failed', error.cause ?? error)
        return text(500, 'internal server error')
      }
      return text(error.status, error.status === 400 ? 'the URL is malformed' : error.message)
    },
  })
  app.all('/', methods({ GET: serveClient }))
  app.all('/.stream', methods({ GET: multiplexed }))
  app.all('/.stats', methods({ GET: () => json(stats()) }))
  app.all('/**', methods({ GET: read, POST: write, PUT: write }))

  return {
    app,
    fetch: async (request) => app.fetch(request),
    nodeHandler: toNodeHandler(app),
    store,
    stats,
    closeStreams: () => hub.closeStreams(),
    async close() {
      hub.close()
      if (ownsStore) await store.close?.()
    },
  }
}

/** Answers OPTIONS (the CORS preflight) and 405 for methods not listed. */
function methods(handlers: Partial<Record<Method, Handler>>): Handler {
  const allow = [...Object.keys(handlers), 'OPTIONS'].join(', ')
  return (event) => {
    const method = event.req.method
    if (method === 'OPTIONS') return respond(null, 200, { allow, 'access-control-max-age': '86400' })
    const handler = handlers[method as Method]
    if (!handler) return text(405, `${method} is not allowed here; allowed: ${allow}`, { allow })
    return handler(event)
  }
}

/**
 * The key or prefix a request names: its path below where the app is mounted
 * (`h3.mount('/kv', atomkv.app)` serves `/kv/a` as the key `/a`),
 * percent-decoded. h3 has already refused malformed escapes with a 400.
 */
function pathOf(event: H3Event): string {
  const route = event.context.matchedRoute?.route ?? ''
  const base = route.endsWith('/**') ? route.slice(0, -3) : ''
  let pathname = event.url.pathname
  if (base && pathname.startsWith(base)) pathname = pathname.slice(base.length)
  try {
    return decodeURIComponent(pathname)
  } catch {
    return pathname
  }
}
