// The names both sides put on the wire, and the limits they agree on.

/** Paths that are not keys: `.` cannot appear in a key, so these never collide with one. */
export const STREAM_PATH = '/.stream'
export const STATS_PATH = '/.stats'
/** For load balancers: `200` while the service takes requests, `503` once it is shutting down. */
export const HEALTH_PATH = '/.health'
/** Prometheus metrics, in the text format. */
export const METRICS_PATH = '/.metrics'
/**
 * The inspector, a page to browse, watch and edit keys (when the server has it
 * on), and its script and style: relative to the service, wherever it is mounted.
 */
export const INSPECT_PATH = '/.inspect'
export const INSPECT_SCRIPT_PATH = '/.inspect.js'
export const INSPECT_STYLE_PATH = '/.inspect.css'

/** Header names, lower-case as Node and `Headers` give them. */
export const HEADER = {
  /** A key's revision: on answers, and on `PUT` (compare-and-swap). */
  revision: 'x-revision',
  /** Names the server's resume log; it changes at every start. */
  instance: 'x-atomkv-instance',
  /** On a stream's answer: the most keys and prefixes this server takes on one stream. */
  maxSubscriptions: 'x-atomkv-max-subscriptions',
  /** Where a stream resumes (also the query parameter of that name). */
  lastEventId: 'last-event-id',
  /** On a stream refused with `401` or `403`: the key or prefix refused (percent-encoded as in a query), so a client can drop that one subscription. */
  refused: 'x-atomkv-refused',
} as const

/** Query parameters of a stream. */
export const QUERY = {
  /** A key or prefix to watch, on `/.stream`; repeated. */
  sub: 'sub',
  /** A key or prefix to watch with its current values first, on `/.stream`; repeated. */
  init: 'init',
  /** Current values of every covered key first. */
  initial: 'initial',
  /** The client's name for its connection: a newer stream of it retires the older. */
  session: 'session',
  /** The instance that sent the resume point. */
  instance: 'instance',
  lastEventId: 'last-event-id',
  /**
   * An access token, for requests that cannot carry `Authorization: Bearer`
   * (`EventSource`, a script tag). Visible in server and proxy logs: prefer the header.
   */
  token: 'token',
} as const

/** Headers a browser may read from our answers (CORS). */
export const EXPOSED_HEADERS = 'X-Revision, X-AtomKV-Instance, X-AtomKV-Max-Subscriptions'
/** The same, on a server with access control: a refused stream names the refused path. */
export const EXPOSED_HEADERS_WITH_ACCESS = `${EXPOSED_HEADERS}, X-AtomKV-Refused`

/** Keys and prefixes one stream carries, unless the server says otherwise. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 1000
/** Longest `session` name a server takes. */
export const MAX_SESSION_LENGTH = 128
