// What a request names: its key or prefix, its revision, its query flags.

import type { H3Event } from 'h3'
import { quote, Refusal } from './reply.js'

/**
 * The key or prefix a request names: its path below where the app is mounted
 * (`h3.mount('/kv', atomkv.app)` serves `/kv/a` as the key `/a`),
 * percent-decoded. h3 has already refused malformed escapes with a 400.
 *
 * On Node it is the path as the client sent it: a URL parser would turn
 * `/a/../b` into `/b` and `/a\b` into `/a/b`, and the key rule (like the
 * original) refuses both spellings. Other runtimes hand over a parsed URL.
 */
export function pathOf(event: H3Event): string {
  const route = event.context.matchedRoute?.route ?? ''
  const base = route.endsWith('/**') ? route.slice(0, -3) : ''
  const raw = event.runtime?.node?.req.url
  const query = raw?.indexOf('?') ?? -1
  let pathname = raw?.startsWith('/') ? (query === -1 ? raw : raw.slice(0, query)) : event.url.pathname
  if (base && pathname.startsWith(base)) pathname = pathname.slice(base.length)
  try {
    return decodeURIComponent(pathname)
  } catch {
    return pathname
  }
}

/**
 * `X-Revision` as sent with PUT (the next revision) or DELETE (the current
 * one): an integer; one no key can have (too large) is `-1`, and conflicts.
 */
export function parseRevision(header: string | null, method: 'PUT' | 'DELETE' = 'PUT'): number {
  const value = header?.trim() ?? ''
  // As the original's strconv.Atoi: decimal, with an optional sign.
  if (!/^[+-]?\d+$/.test(value)) {
    const problem = header === null ? 'is missing' : `${quote(header)} is not an integer`
    const wanted = method === 'PUT' ? 'PUT needs the next revision number' : 'DELETE takes the current revision number'
    throw new Refusal(400, `X-Revision ${problem}; ${wanted}`)
  }
  const revision = Number(value)
  return Number.isSafeInteger(revision) ? revision : -1
}

/** Whether a query flag such as `initial` is on: present, and not `0`, `false` or `no`. */
export function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name)
  return value !== null && !['0', 'false', 'no'].includes(value.toLowerCase())
}
