import type { Authorize } from './access.js'
import type { BacklogOptions } from './backlog.js'
import type { CorsOrigins } from './cors.js'
import type { Store } from './store.js'

/** One answered request. */
export interface RequestLogEntry {
  /** When it was answered, ISO 8601. */
  time: string
  method: string
  path: string
  status: number
  /** Time to answer (a stream: to open), in milliseconds. */
  ms: number
  /** The client's address, when the runtime gives it. */
  ip: string | undefined
}

/** Where the service reports what it does; `console` fits. */
export interface Logger {
  warn(message: string): void
  error(message: string, error?: unknown): void
}

export interface AtomKVOptions {
  /** Where values live. Default: a {@link MemoryStore} built from `maxKeys` and `expireAfterMs`. */
  store?: Store
  /** Largest request body, in bytes; a larger one is refused with `413`. Default 1 MiB. */
  maxValueBytes?: number
  /** Longest key or prefix, in characters; a longer one is refused with `400`. Default and most 1024 (the protocol's limit). */
  maxKeyLength?: number
  /** Deepest nesting of arrays and objects in a value; a deeper one is refused with `400`. Default 512. */
  maxDepth?: number
  /** Most keys in the default store; a new key beyond it is refused with `507`. Default 100 000. */
  maxKeys?: number
  /** A key not written for this long is dropped by the default store. Default 7 days; `0` keeps keys forever. */
  expireAfterMs?: number
  /** A comment goes to each idle stream this often. Default 15 000; `0` sends none. */
  heartbeatMs?: number
  /** A stream whose unsent frames would pass this many bytes is cut off (and resumes). Default 8 MiB. */
  maxQueueBytes?: number
  /** The resume backlog's bounds. Default 10 000 events and 16 MiB. */
  backlog?: BacklogOptions
  /** Most keys and prefixes on one stream. Default 1000. */
  maxSubscriptionsPerStream?: number
  /** Most streams open at once, those still sending what they held when replaced included; one more is refused with `503`. Default 10 000. */
  maxStreams?: number
  /**
   * Most streams open at once from one client address; one more is refused
   * with `429` and `Retry-After`. Behind a proxy every client has the proxy's
   * address: raise it, or `0` for no limit. Default 500.
   */
  maxStreamsPerClient?: number
  /** Most keys and prefixes watched over all streams; a stream that would pass it is refused with `503`. Default 1 000 000. */
  maxTotalSubscriptions?: number
  /**
   * A stream replaced by a newer one of its session (`?session=`) sends what it
   * holds, then ends; if its reader has not taken it within this long, it is
   * dropped. Until then it counts against `maxStreams`. Default 5 000.
   */
  retiringGraceMs?: number
  /** Default `console`; `false` logs nothing. */
  logger?: Logger | false
  /** Called with every answered request (a stream: once it opens). Off by default; the CLI's `--log-requests` writes them to stdout as JSON lines. */
  requestLog?: (entry: RequestLogEntry) => void
  /**
   * Decides who may read, write and delete which keys: asked before each
   * request touches the store (and before a write's body is read), once per
   * key or prefix it names (`true`: allowed; `false`: `403`;
   * `'unauthenticated'`: `401`). `tokenAuth(tokens)` is one. With it,
   * `/.stats` and `/.metrics` take a `read` of `/` (the whole store); `GET /`
   * (the script), the inspector's files, `/.health` and preflights stay open. Default: none, anyone may do anything.
   */
  authorize?: Authorize
  /**
   * Origins browser pages may call from. `'*'` (the default): any, as the
   * original. A list (`['https://app.example.com']`) or a function: a listed
   * origin's answers carry `Access-Control-Allow-Origin: <origin>` (and allow
   * credentials); a request with another `Origin` is refused with `403`, no
   * CORS headers (a simple POST runs without preflight, so missing headers alone would not stop it).
   */
  corsOrigins?: CorsOrigins
  /**
   * Serves the inspector at `/.inspect`: a page to browse, watch, edit and
   * delete keys, with the connection and the server's counts. It holds no
   * data and uses the API like any client, with the rights of the token
   * typed into it. Default false (`/.inspect` answers `404`); the Vite plugin's default is true.
   */
  inspect?: boolean
}

export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
export const DEFAULT_MAX_DEPTH = 512
export const DEFAULT_HEARTBEAT_MS = 15_000
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM = 1000
export const DEFAULT_MAX_STREAMS = 10_000
export const DEFAULT_RETIRING_GRACE_MS = 5000
export const DEFAULT_MAX_TOTAL_SUBSCRIPTIONS = 1_000_000
export const DEFAULT_MAX_STREAMS_PER_CLIENT = 500

const silent: Logger = { warn() {}, error() {} }

export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return silent
  return logger ?? console
}

/** Throws a RangeError unless `value` is an integer of at least `min` (or undefined, for the default). */
export function checkInteger(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return
  if (!(Number.isInteger(value) || value === Infinity) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`)
  }
}
