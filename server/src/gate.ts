// Asks the `authorize` hook before a request touches the store (and before a
// write's body is read), and turns its answers into `401` (who are you?) or
// `403` (not you).

import { HEADER, QUERY } from '@atomkv/client/protocol'
import type { H3Event } from 'h3'
import type { AccessRequest, Authorize, Operation } from './access.js'
import { quote, Refusal } from './reply.js'

/** The words of an error message for each operation. */
const VERB: Readonly<Record<Operation, string>> = { read: 'read', write: 'write', delete: 'delete' }

const CONTEXT = Symbol('atomkv.access')

/** The hook, and the request view it is given (built once per request, only when asked). */
export class Gate {
  readonly #authorize: Authorize

  constructor(authorize: Authorize) {
    this.#authorize = authorize
  }

  /**
   * Resolves when the hook allows `operation` on every one of `keys`; else
   * throws the {@link Refusal} for the first refused one. `stream`: the
   * refusal names the refused path in a header, for a client to drop just that subscription.
   */
  async check(event: H3Event, operation: Operation, keys: string | readonly string[], stream = false): Promise<void> {
    const request = requestOf(event)
    for (const key of typeof keys === 'string' ? [keys] : keys) {
      const decision = await this.#authorize(request, { operation, key })
      if (decision === true) continue
      const refused = stream ? [HEADER.refused, encodePath(key)] : []
      const what = `${VERB[operation]} ${quote(key)}`
      if (decision === 'unauthenticated') {
        const why = request.token === undefined ? 'no token or credentials' : 'the token or credentials are not valid'
        throw new Refusal(401, `unauthenticated: ${why} to ${what}`, [
          'www-authenticate', 'Bearer realm="atomkv"', ...refused, ...bodyUnread(event),
        ])
      }
      throw new Refusal(403, `forbidden: not allowed to ${what}`, [...refused, ...bodyUnread(event)])
    }
  }
}

/**
 * A refused write whose body was not read: the connection is closed rather
 * than drained (as for a body too large), so a refusal never costs reading
 * up to the value limit.
 */
function bodyUnread(event: H3Event): string[] {
  const method = event.req.method
  if (method !== 'POST' && method !== 'PUT') return []
  const headers = event.req.headers
  const length = headers.get('content-length')
  const hasBody = headers.has('transfer-encoding') || (length !== null && length.trim() !== '0')
  return hasBody ? ['connection', 'close'] : []
}

/** A path in a header: ASCII only, so percent-encoded with `/` kept. */
function encodePath(path: string): string {
  return encodeURIComponent(path).replace(/%2F/g, '/')
}

/** The token a request carries: `Authorization: Bearer …` first, else the `token` query parameter. */
export function tokenOf(headers: Headers, url: URL): string | undefined {
  const authorization = headers.get('authorization')
  if (authorization) {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match) return match[1]
  }
  return url.searchParams.get(QUERY.token) || undefined
}

function requestOf(event: H3Event): AccessRequest {
  const context = event.context as { [CONTEXT]?: AccessRequest }
  let request = context[CONTEXT]
  if (!request) {
    const headers = event.req.headers
    let cookies: Map<string, string> | undefined
    request = {
      method: event.req.method,
      url: event.url,
      headers,
      ip: event.req.ip,
      token: tokenOf(headers, event.url),
      cookie(name) {
        cookies ??= parseCookies(headers.get('cookie'))
        return cookies.get(name)
      },
    }
    context[CONTEXT] = request
  }
  return request
}

/** `a=1; b=2` → a map; a value in quotes loses them; a malformed escape is kept as sent. */
export function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>()
  if (!header) return cookies
  for (const part of header.split(';')) {
    const equals = part.indexOf('=')
    if (equals === -1) continue
    const name = part.slice(0, equals).trim()
    let value = part.slice(equals + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (!name || cookies.has(name)) continue
    try {
      cookies.set(name, decodeURIComponent(value))
    } catch {
      cookies.set(name, value)
    }
  }
  return cookies
}
