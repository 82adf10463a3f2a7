// A standalone server: the service on srvx's Node adapter.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { serve as srvx } from 'srvx'
import { type AtomKV, createAtomKV } from './app.js'
import { fileStore, type FsyncPolicy } from './file-store.js'
import { redisStore, type RedisStoreOptions } from './redis-store.js'
import type { Store } from './store.js'
import { guardURL } from './routing.js'
import { type AtomKVOptions, checkInteger, resolveLogger } from './options.js'
import { corsPolicy } from './cors.js'
import type { HeaderPairs } from './reply.js'

export interface ServeOptions extends AtomKVOptions {
  /** Default 8000; `0` picks a free port. */
  port?: number
  /** Default: every interface. */
  hostname?: string
  /** A client that has not sent a request's headers within this long gets `408` and is disconnected (slow-loris). Default 10 000. */
  headersTimeoutMs?: number
  /** A client that has not sent a whole request (headers and body) within this long gets `408`. Default 60 000. */
  requestTimeoutMs?: number
  /** Most open connections; the server closes any past it at once. Default 20 000. */
  maxConnections?: number
  /**
   * A data directory: the store is kept there (a {@link fileStore}), and
   * keys are kept until deleted unless `expireAfterMs` says otherwise. Not
   * with `store`.
   */
  data?: string
  /** With `data`: when a write is on disk before it is answered. Default `always`. */
  fsync?: FsyncPolicy
  /**
   * A Redis URL (`redis://host:6379`): the store is kept there (a
   * {@link redisStore}), shared with every other server started on the same
   * Redis, streams and resume included. Keys are kept until deleted unless
   * `expireAfterMs` says otherwise. Not with `store` or `data`. An object
   * gives the store's own options beside its `url` (a key `prefix`, ioredis
   * options).
   */
  redis?: string | (RedisStoreOptions & { url: string })
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
export const DEFAULT_MAX_CONNECTIONS = 20_000

export interface AtomKVServer {
  /** Where it listens, e.g. `http://127.0.0.1:54321` (`localhost` when on every interface). */
  readonly url: string
  readonly port: number
  readonly atomkv: AtomKV
  /** Ends the streams, stops accepting connections, waits briefly for requests in flight, then drops the rest. */
  close(): Promise<void>
}

/** The head of an answer to a request Node could not parse: CORS (for no origin in particular), and the connection closes. */
function clientErrorHeaders(cors: HeaderPairs): string {
  return [...pairs(cors), ['content-length', '0'], ['connection', 'close']]
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
}

function pairs(list: readonly string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!])
  return out
}

/** Connections still busy this long after close() are dropped. */
const CLOSE_GRACE_MS = 1000

export async function serve(options: ServeOptions = {}): Promise<AtomKVServer> {
  const {
    port = 8000,
    hostname,
    headersTimeoutMs = DEFAULT_HEADERS_TIMEOUT_MS,
    requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
    maxConnections = DEFAULT_MAX_CONNECTIONS,
    data,
    fsync,
    redis,
    ...rest
  } = options
  checkInteger('headersTimeoutMs', headersTimeoutMs, 1)
  checkInteger('requestTimeoutMs', requestTimeoutMs, 1)
  checkInteger('maxConnections', maxConnections, 1)
  if (data !== undefined && rest.store) throw new TypeError('data and store cannot be used together')
  if (redis !== undefined && (rest.store || data !== undefined)) throw new TypeError('redis cannot be used with store or data')
  const { maxKeys, expireAfterMs, logger } = rest
  let durable: (Store & { close(): Promise<void> }) | undefined
  if (data !== undefined) durable = await fileStore(data, { fsync, maxKeys, expireAfterMs, logger })
  else if (redis !== undefined) {
    const { url, ...more } = typeof redis === 'string' ? { url: redis } : redis
    durable = await redisStore(url, { maxKeys, expireAfterMs, logger, ...more })
  }
  let atomkv: AtomKV
  try {
    atomkv = createAtomKV(durable ? { ...rest, store: durable } : rest)
  } catch (error) {
    await durable?.close()
    throw error
  }
  const cors = corsPolicy(rest.corsOrigins, rest.authorize !== undefined)
  const clientError = clientErrorHeaders(cors.fallback)
  const server = srvx({
    fetch: guardURL(atomkv.app, cors.fallback),
    port,
    // Passed to listen() as is, so an absent hostname means every interface (not srvx's HOST variable).
    node: {
      host: hostname,
      headersTimeout: headersTimeoutMs,
      // Node wants the whole-request limit at least as long as the headers' one.
      requestTimeout: Math.max(requestTimeoutMs, headersTimeoutMs),
      // How often Node checks those deadlines: often enough that a limit holds to within a quarter of it.
      connectionsCheckingInterval: Math.max(50, Math.min(headersTimeoutMs, requestTimeoutMs) / 4),
    },
    silent: true,
    // Signals are the embedding program's business (the CLI handles them).
    gracefulShutdown: false,
  })
  try {
    await server.ready()
  } catch (error) {
    await atomkv.close()
    await durable?.close()
    throw error
  }
  const node = server.node?.server
  if (node) node.maxConnections = maxConnections
  // Connections that never sent a request (clients open spare ones) hold nothing in flight:
  // close() drops them at once instead of waiting for the client to give up on them.
  const fresh = new Set<Socket>()
  node?.on('connection', (socket: Socket) => {
    fresh.add(socket)
    socket.once('close', () => fresh.delete(socket))
  })
  node?.on('request', (request: IncomingMessage) => fresh.delete(request.socket))
  // A request Node's parser refuses (a malformed request line or header, a
  // byte a URL cannot hold) still gets the CORS headers a browser needs to
  // read the error; Node's own answer has none.
  node?.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // Node's own rule: answer only when no answer has begun on this connection (a
    // request whose body never came has none); otherwise just close.
    const started = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent
    if (!socket.writable || started) return socket.destroy()
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    socket.end(`HTTP/1.1 ${status}\r\n${clientError}\r\n`)
  })

  const address = node?.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  const host = !hostname || hostname === '0.0.0.0' || hostname === '::' ? 'localhost' : hostname
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`
  if (!rest.authorize && !isLoopback(hostname)) {
    resolveLogger(rest.logger).warn(
      `atomkv: listening on ${hostname ?? 'every interface'} with no access control: anyone who can reach ` +
        `port ${actualPort} can read and write every key. Give tokens with --auth FILE (option ` +
        `authorize: tokenAuth(...)), or listen on 127.0.0.1 (--addr 127.0.0.1:${actualPort}).`,
    )
  }

  let closing: Promise<void> | undefined
  async function close(): Promise<void> {
    // srvx would wait for open streams to end by themselves: end them first, and refuse new ones.
    await atomkv.close()
    const closed = server.close()
    // Ended streams leave keep-alive connections that turn idle after close() began; close those as they do.
    const sweep = setInterval(() => {
      for (const socket of fresh) socket.destroy()
      if (node && 'closeIdleConnections' in node) node.closeIdleConnections()
    }, 10)
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const grace = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS)
      })
      if (!(await Promise.race([closed.then(() => true), grace]))) await server.close(true)
      await closed
    } finally {
      clearInterval(sweep)
      clearTimeout(timer)
      await durable?.close()
    }
  }

  return {
    url,
    port: actualPort,
    atomkv,
    close: () => (closing ??= close()),
  }
}

/** Whether only this machine can reach `hostname` (undefined: every interface). */
export function isLoopback(hostname: string | undefined): boolean {
  if (!hostname) return false
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1'
}
