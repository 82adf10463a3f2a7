// createClient(): the requests of the protocol, plus subscriptions that share
// one event stream per client.

import type { BackoffOptions } from './backoff.js'
import { withCache, type AtomKVCache } from './cache/cache.js'
import type { CacheOptions } from './cache/types.js'
import { Connection, type StreamRequest } from './connection/connection.js'
import type { ListenerSpec } from './listener.js'
import type { TypedAtomKVClient } from './typed.js'
import { AtomKVError } from './errors.js'
import { checkPath, deleteKey, fetchWithToken, getKey, setKey, updateKey, type Fetch, type GetResult, type TokenOption, type Transport } from './http.js'
import { Modifications, type Modifier, type ModifyOptions } from './modify.js'
import { DEFAULT_MAX_SUBSCRIPTIONS, HEADER, QUERY, STREAM_PATH } from './protocol/index.js'
import { DEFAULT_MAX_EVENT_SIZE } from './sse.js'
import { SubscriptionIterator } from './subscription.js'
import { clientStatus, combinedStatus } from './status.js'
import { browserTabEnvironment, TabShare, type TabEnvironment } from './tabs/share.js'
import type {
  ConnectionStatus,
  SubscribeOptions,
  Subscription,
  WatchEvent,
  WatchListener,
  WatchOptions,
} from './types.js'

export interface ClientOptions {
  /** Where the service is, path included (`https://example.com/__atomkv`). Relative URLs resolve against the page. */
  url: string
  /** The fetch to use; the global one by default. */
  fetch?: Fetch
  /** Writes a `subscribe()` iterator holds for a slow reader before it fails with `overflow`. Default 10 000. */
  maxQueue?: number
  /** Carry every subscription on one `/.stream` connection (default). `false`: one stream per key or prefix. */
  multiplex?: boolean
  retry?: {
    /** Upper bound of the first reconnection delay. Default 250 ms. */
    minDelayMs?: number
    /** Cap of the reconnection delay (delays double up to it, with full jitter). Default 10 s. */
    maxDelayMs?: number
  }
  /** A stream that brings nothing (not even the server's keep-alive comment) for this long is replaced. Default 45 s; 0 never. */
  idleTimeoutMs?: number
  /** Largest single event accepted from a stream, in characters; a larger one drops the connection. Default 8 Mi. */
  maxEventSize?: number
  /**
   * Share one stream among all the tabs of this browser that use this URL
   * with this option: one tab's client holds the stream (elected by a Web
   * Lock), the others get their events from it over a BroadcastChannel.
   * Default false. Where Web Locks or BroadcastChannel are missing (Node, a
   * page served over plain http from another host than localhost), the client
   * keeps its own stream.
   */
  shareAcrossTabs?: boolean
  /** Options of `client.cache`, fixed for the client's life. */
  cache?: CacheOptions
  /**
   * An access token for a server with access control, sent as
   * `Authorization: Bearer <token>` on every request and stream. A string,
   * or a function (sync or async) called before each request and each stream
   * (re)connection, so an expiring token is fetched anew. After a `401` a
   * function is asked once more with `{ refresh: true }` and the request
   * retried with the new token; a second `401` is the caller's error (code
   * `unauthenticated`). With `shareAcrossTabs`, the leading tab's token
   * carries the shared stream.
   */
  token?: TokenOption
}

export interface DeleteOptions {
  /** Compare-and-delete: remove the key only if this is its current revision. */
  revision?: number
}

export interface AtomKVClient {
  /** `[value, revision]`, or `[null, -1]` when the key does not exist. */
  get<T = unknown>(key: string): Promise<GetResult<T>>
  /** Force-sets `key`; resolves to its new revision. */
  set(key: string, value: unknown): Promise<number>
  /** Compare-and-swap: stores `value` only if `revision` is the key's next one (`0` for a new key). */
  update(key: string, value: unknown, revision: number): Promise<boolean>
  /**
   * Removes `key` (with `revision`, only at that revision): `true` when it was
   * removed, `false` when it was missing or at another revision. Watchers see
   * a `delete` event; the key's next write starts again at revision 0.
   */
  delete(key: string, options?: DeleteOptions): Promise<boolean>
  /**
   * Read, `fn`, write with revision + 1; on a conflict, again after a jittered
   * backoff. `fn` returning `undefined` aborts (resolves to `undefined`).
   * Resolves to the committed `[value, revision]`; after `maxAttempts`
   * conflicts rejects with `AtomKVConflictError`.
   */
  modify<T = unknown>(key: string, fn: Modifier<T>, options?: ModifyOptions): Promise<[value: T, revision: number] | undefined>
  /** Every later write of a key, or of every key under a prefix (`/room/`), in order. */
  subscribe<T = unknown>(keyOrPrefix: string, options?: SubscribeOptions): Subscription<T>
  /** The callback form of `subscribe()`; returns the unsubscribe function. Throws at once on an invalid path. */
  watch<T = unknown>(keyOrPrefix: string, listener: WatchListener<T>, options?: WatchOptions): () => void
  readonly status: ConnectionStatus
  /** Calls `listener` on every status change; returns the unsubscribe function. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void
  /** Ends every stream; iterators finish after what they hold, later calls reject with code `closed`. */
  close(): void
  /** The client's one cache of live keys and prefixes, which the React and Svelte adapters share. */
  readonly cache: AtomKVCache
}

/**
 * The subscription list travels in the stream's URL; servers refuse request
 * lines past 8–16 KiB. Past this many characters of it, a new path is refused.
 */
export const MAX_SUBSCRIPTION_QUERY = 12_000

const DEFAULT_RETRY: BackoffOptions = { minDelayMs: 250, maxDelayMs: 10_000 }
const DEFAULT_IDLE_TIMEOUT_MS = 45_000

/**
 * A client of the service at `options.url`. `createClient<Schema>(…)` types it
 * by a schema of keys (see `TypedAtomKVClient`); the same object either way.
 */
export function createClient(options: ClientOptions): AtomKVClient
export function createClient<Schema extends object>(options: ClientOptions): TypedAtomKVClient<Schema>
export function createClient(options: ClientOptions): AtomKVClient {
  return createClientIn(options, options.shareAcrossTabs ? browserTabEnvironment() : null)
}

/** `createClient()`, with the tab-sharing APIs given (tests run it in Node); `null`: no sharing. */
export function createClientIn(options: ClientOptions, tabs: TabEnvironment | null): AtomKVClient {
  const base = baseUrl(options.url)
  const transport: Transport = {
    base,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    token: options.token,
  }
  const maxQueue = options.maxQueue ?? 10_000
  if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new RangeError(`maxQueue must be a positive integer, not ${maxQueue}`)
  const multiplex = options.multiplex ?? true
  const retry: BackoffOptions = { ...DEFAULT_RETRY, ...options.retry }
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const maxEventSize = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE

  let closed = false
  let status: ConnectionStatus = 'closed'
  const statusListeners = new Set<(status: ConnectionStatus) => void>()
  const updateStatus = () => {
    const own = combinedStatus([...connections.values()].map((connection) => connection.status))
    share?.setConnectionStatus(own)
    const next = clientStatus(closed, own, share?.view ?? null)
    if (next === status) return
    status = next
    for (const listener of [...statusListeners]) {
      try {
        listener(next)
      } catch (error) {
        setTimeout(() => {
          throw error
        })
      }
    }
  }

  // Multiplexed: one connection under the key '', for every path. Otherwise one per path.
  const connections = new Map<string, Connection>()
  const connectionFor = (path: string): Connection => {
    const id = multiplex ? '' : path
    let connection = connections.get(id)
    if (!connection) {
      const created: Connection = new Connection({
        open: (request, signal) => openStream(transport, multiplex ? null : path, request, signal),
        retry,
        idleTimeoutMs,
        maxEventSize,
        limits: multiplex ? multiplexedLimits() : undefined,
        onStatus: (next) => {
          // A per-path stream with no listener left is done for good.
          if (!multiplex && next === 'closed' && created.size === 0 && connections.get(id) === created) {
            connections.delete(id)
            created.close()
          }
          updateStatus()
        },
      })
      connection = created
      connections.set(id, connection)
    }
    return connection
  }

  const attach = (spec: ListenerSpec) => connectionFor(spec.path).add(spec)
  const wakeConnections = () => {
    for (const connection of connections.values()) connection.wake()
  }
  // Sharing: every subscription goes through the tab share, which puts it on our connection only while we lead.
  const share = tabs && new TabShare({ url: base, env: tabs, attach, wake: wakeConnections, onChange: () => updateStatus() })
  const listen = share ? (spec: ListenerSpec) => share.add(spec) : attach

  const ensureOpen = (key?: string) => {
    if (closed) throw new AtomKVError('the client is closed', { code: 'closed', key })
  }

  // Reconnect at once when the page comes back to the foreground or the network returns.
  const page = typeof document !== 'undefined' && typeof document.addEventListener === 'function' ? document : null
  const browser = typeof window !== 'undefined' && typeof window.addEventListener === 'function' ? window : null
  const wake = () => {
    if (page?.visibilityState === 'hidden') return
    wakeConnections()
    share?.wake()
  }
  page?.addEventListener('visibilitychange', wake)
  browser?.addEventListener('online', wake)

  // modify() starts from what the cache's streams already brought, when it has the key.
  const modifications = new Modifications({ transport, known: (key) => client.cache.peek(key), closed: () => closed })

  const client = withCache(options.cache, {
    async get<T>(key: string) {
      ensureOpen(key)
      return getKey<T>(transport, key)
    },
    async set(key, value) {
      ensureOpen(key)
      return setKey(transport, key, value)
    },
    async update(key, value, revision) {
      ensureOpen(key)
      return updateKey(transport, key, value, revision)
    },
    async delete(key, deleteOptions = {}) {
      ensureOpen(key)
      const { revision } = deleteOptions
      if (revision !== undefined && !Number.isSafeInteger(revision)) {
        throw new AtomKVError(`${key}: revision must be an integer, not ${revision}`, { code: 'invalid-value', key })
      }
      return deleteKey(transport, key, revision)
    },
    async modify<T>(key: string, fn: Modifier<T>, modifyOptions?: ModifyOptions) {
      ensureOpen(key)
      return modifications.modify(key, fn, modifyOptions)
    },
    subscribe<T>(keyOrPrefix: string, subscribeOptions: SubscribeOptions = {}): Subscription<T> {
      return new SubscriptionIterator<T>({
        path: keyOrPrefix,
        initial: subscribeOptions.initial ?? false,
        maxQueue,
        signal: subscribeOptions.signal,
        attach: (spec) => {
          checkPath(keyOrPrefix, true)
          ensureOpen(keyOrPrefix)
          return listen(spec)
        },
      })
    },
    watch<T>(keyOrPrefix: string, listener: WatchListener<T>, watchOptions: WatchOptions = {}) {
      checkPath(keyOrPrefix, true)
      ensureOpen(keyOrPrefix)
      const remove = listen({
        path: keyOrPrefix,
        initial: watchOptions.initial ?? false,
        fullResync: true,
        emit: listener as (event: WatchEvent) => void,
      })
      return remove
    },
    get status() {
      return status
    },
    onStatus(listener) {
      statusListeners.add(listener)
      return () => void statusListeners.delete(listener)
    },
    close() {
      if (closed) return
      closed = true
      page?.removeEventListener('visibilitychange', wake)
      browser?.removeEventListener('online', wake)
      share?.close()
      for (const connection of connections.values()) connection.close()
      connections.clear()
      updateStatus()
    },
  })
  return client
}

/** The service's base URL: absolute, without query, fragment or trailing slash. */
function baseUrl(url: string): string {
  const parsed = new URL(url, typeof location === 'undefined' ? undefined : location.href)
  return parsed.origin + parsed.pathname.replace(/\/+$/, '')
}

/** A connection's limits; `maxPaths` becomes the server's own once a stream answers. */
const multiplexedLimits = () => ({
  maxPaths: DEFAULT_MAX_SUBSCRIPTIONS,
  maxQueryLength: MAX_SUBSCRIPTION_QUERY,
  queryLength: (path: string) => QUERY.init.length + 1 + queryValue(path).length + 1,
})

/** A path in a query string: `/` needs no escaping there, and keeping it keeps URLs short and legible. */
function queryValue(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/')
}

/** A header carries only printable ASCII; a position naming a non-ASCII key travels in the query instead. */
const HEADER_SAFE = /^[\x20-\x7e]*$/

function openStream(
  transport: Transport,
  path: string | null,
  request: StreamRequest,
  signal: AbortSignal,
): Promise<Response> {
  const query: string[] = []
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  const add = (name: string, value: string) => query.push(`${name}=${queryValue(value)}`)
  let url: string
  if (path === null) {
    for (const p of request.sub) add(QUERY.sub, p)
    for (const p of request.init) add(QUERY.init, p)
    url = transport.base + STREAM_PATH
  } else {
    if (request.init.length > 0) add(QUERY.initial, '1')
    url = transport.base + path
  }
  const position = request.lastEventId
  if (position !== null) {
    if (HEADER_SAFE.test(position)) headers[HEADER.lastEventId] = position
    else add(QUERY.lastEventId, position)
    if (request.instance !== null) add(QUERY.instance, request.instance)
  }
  add(QUERY.session, request.session)
  url += '?' + query.join('&')
  return fetchWithToken(transport, url, { headers, signal })
}
