// Which origins may use the service from a browser, and the CORS headers each
// answer carries. The default (any origin, no access control) is the
// original's: one constant header list, nothing looked at per request.

import { EXPOSED_HEADERS, EXPOSED_HEADERS_WITH_ACCESS } from '@atomkv/client/protocol'

/** Header names and values, alternating, as Node's `writeHead` takes them. */
export type HeaderPairs = readonly string[]

/**
 * Origins a browser page may use the service from: `'*'` any (the default),
 * a list of origins (`https://app.example.com`, no path), or a function
 * given the `Origin` header and the request's `Host` header.
 */
export type CorsOrigins = '*' | readonly string[] | ((origin: string, host: string | null) => boolean)

/** The CORS headers of every answer when any origin may call and there is no access control: the original's. */
export const CORS_HEADERS: HeaderPairs = [
  'access-control-allow-origin', '*',
  'access-control-allow-methods', '*',
  'access-control-allow-headers', '*',
  'access-control-expose-headers', EXPOSED_HEADERS,
]

/** Any origin, with access control: `*` does not cover `Authorization`, which must be named. */
const OPEN_WITH_ACCESS: HeaderPairs = [
  'access-control-allow-origin', '*',
  'access-control-allow-methods', '*',
  'access-control-allow-headers', '*, authorization',
  'access-control-expose-headers', EXPOSED_HEADERS_WITH_ACCESS,
]

/**
 * With a list, the answer depends on the `Origin`. Credentials (cookies) may
 * come along, and with them `*` means the literal name: methods and headers are listed.
 */
const LISTED: HeaderPairs = [
  'access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers', '*, authorization, content-type, x-revision, last-event-id, accept, cache-control',
  'access-control-expose-headers', EXPOSED_HEADERS_WITH_ACCESS,
  'vary', 'Origin',
]

/** Answers to origins cached at most: a function may allow endless ones. */
const MAX_CACHED = 256

export interface CorsPolicy {
  /** The CORS headers for a request with this `Origin` (null: none), prebuilt. */
  headersFor(origin: string | null, host: string | null): HeaderPairs
  /** Whether a request from this origin may be served at all (a foreign origin gets `403`, for a simple POST runs without preflight). */
  allows(origin: string | null, host: string | null): boolean
  /** For answers with no request to look at (one Node could not parse). */
  readonly fallback: HeaderPairs
  /** The original's: any origin, no access control. Nothing to do per request. */
  readonly isDefault: boolean
}

/** Throws a TypeError naming the entry unless every listed origin is one (scheme, host, port; no path). */
export function checkOrigins(origins: CorsOrigins | undefined, name = 'corsOrigins'): void {
  if (origins === undefined || origins === '*' || typeof origins === 'function') return
  if (!Array.isArray(origins)) throw new TypeError(`${name} must be '*', a list of origins or a function`)
  for (const origin of origins) {
    const problem = originProblem(origin)
    if (problem) throw new TypeError(`${name}: ${JSON.stringify(origin)} ${problem}`)
  }
}

/** Why `origin` is not an origin as a browser sends it, or undefined. */
export function originProblem(origin: unknown): string | undefined {
  if (typeof origin !== 'string') return 'is not a string'
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return 'is not a URL; expected an origin such as https://app.example.com'
  }
  if (parsed.origin !== origin) {
    return `is not an origin (scheme, host and port, no path or trailing slash); did you mean ${JSON.stringify(parsed.origin)}?`
  }
  return undefined
}

export function corsPolicy(origins: CorsOrigins = '*', access = false): CorsPolicy {
  checkOrigins(origins)
  if (origins === '*') {
    const headers = access ? OPEN_WITH_ACCESS : CORS_HEADERS
    return { headersFor: () => headers, allows: () => true, fallback: headers, isDefault: !access }
  }
  const allowed =
    typeof origins === 'function' ? origins : ((set: ReadonlySet<string>) => (origin: string) => set.has(origin))(new Set(origins))
  const cache = new Map<string, HeaderPairs>()
  const allows = (origin: string | null, host: string | null) => origin === null || allowed(origin, host)
  return {
    allows,
    headersFor(origin, host) {
      if (origin === null || !allowed(origin, host)) return LISTED
      let headers = cache.get(origin)
      if (!headers) {
        headers = ['access-control-allow-origin', origin, 'access-control-allow-credentials', 'true', ...LISTED]
        if (cache.size < MAX_CACHED) cache.set(origin, headers)
      }
      return headers
    },
    fallback: LISTED,
    isDefault: false,
  }
}
