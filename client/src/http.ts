// The request/response half of the protocol: GET, POST (force-set), PUT
// (compare-and-swap) and DELETE of one key, with every failure mapped to an
// AtomKVError.

import { AtomKVError } from './errors.js'
import { HEADER, keyProblem } from './protocol/index.js'

export type Fetch = typeof globalThis.fetch

/**
 * The access token sent as `Authorization: Bearer <token>`: a string, or a
 * function called before each request and each stream (re)connection, which
 * may return a promise. `refresh` is true on the one retry after a `401`:
 * the time to fetch a new token. `null` or `undefined`: no token this time.
 */
export type TokenOption = string | ((context: { refresh: boolean }) => MaybeToken | Promise<MaybeToken>)
type MaybeToken = string | null | undefined

/** Where the service is and how to reach it. `base` has no trailing slash. */
export interface Transport {
  readonly base: string
  readonly fetch: Fetch
  readonly token?: TokenOption | undefined
}

/** Error bodies are short text; more than this is someone else's error page and is cut. */
const MAX_ERROR_TEXT = 512

/** Throws `invalid-key` unless `path` is a key (or, with `allowPrefix`, a prefix). */
export function checkPath(path: string, allowPrefix = false): void {
  const problem = keyProblem(path, allowPrefix)
  if (problem !== undefined) {
    const what = allowPrefix ? 'key or prefix' : 'key'
    throw new AtomKVError(`invalid ${what} ${JSON.stringify(String(path))}: ${problem}`, {
      code: 'invalid-key',
      key: typeof path === 'string' ? path : undefined,
    })
  }
}

/** The JSON text of `value`, or `invalid-value` for what JSON cannot carry. */
export function encodeValue(key: string, value: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (cause) {
    throw new AtomKVError(`${key}: the value cannot be serialized as JSON`, { code: 'invalid-value', key, cause })
  }
  if (text === undefined) {
    throw new AtomKVError(`${key}: ${typeof value} is not a JSON value`, { code: 'invalid-value', key })
  }
  return text
}

/** Sends one request for `key`; network failures become `network` (or `aborted`) errors. */
export async function send(
  transport: Transport,
  key: string,
  init: RequestInit & { signal?: AbortSignal | undefined },
): Promise<Response> {
  // A GET may fail on a pooled connection the server closed meanwhile (a
  // restart on the same port): reading is safe to try once more; writes are not.
  const tries = (init.method ?? 'GET') === 'GET' ? 2 : 1
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchWithToken(transport, transport.base + key, init)
    } catch (cause) {
      if (cause instanceof AtomKVError) throw cause
      if (init.signal?.aborted) {
        throw new AtomKVError(`${key}: aborted`, { code: 'aborted', key, cause: init.signal.reason })
      }
      if (attempt < tries) continue
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new AtomKVError(`${key}: request failed (${reason})`, { code: 'network', key, cause })
    }
  }
}

/**
 * `fetch` with the transport's token as `Authorization: Bearer`. A `401`
 * with a token function is tried once more with the token it gives when
 * asked to refresh (if that is another one): a `401` means nothing was done,
 * so a write is safe to send again.
 */
export async function fetchWithToken(transport: Transport, url: string, init: RequestInit): Promise<Response> {
  const option = transport.token
  if (option === undefined) return transport.fetch(url, init)
  const token = await tokenOf(option, false)
  const response = await transport.fetch(url, withToken(init, token))
  if (response.status !== 401 || typeof option !== 'function') return response
  const fresh = await tokenOf(option, true)
  if (fresh === token) return response
  await drain(response)
  return transport.fetch(url, withToken(init, fresh))
}

async function tokenOf(option: TokenOption, refresh: boolean): Promise<MaybeToken> {
  if (typeof option === 'string') return option
  try {
    return await option({ refresh })
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    throw new AtomKVError(`the token function failed (${reason})`, { code: 'unauthenticated', cause })
  }
}

function withToken(init: RequestInit, token: MaybeToken): RequestInit {
  if (token === null || token === undefined || token === '') return init
  return { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } }
}

/** The error for a response the caller did not expect: the server's own text says why. */
export async function httpError(key: string | undefined, response: Response): Promise<AtomKVError> {
  const text = (await readTextPrefix(response, MAX_ERROR_TEXT)).trim()
  const message = text || `HTTP ${response.status}${response.statusText ? ' ' + response.statusText : ''}`
  return new AtomKVError(key === undefined ? message : `${key}: ${message}`, {
    code: response.status === 401 ? 'unauthenticated' : response.status === 403 ? 'forbidden' : 'http',
    status: response.status,
    key,
  })
}

/** Up to `limit` characters of a body, without buffering the rest of it. */
async function readTextPrefix(response: Response, limit: number): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read()
      if (done) return text + decoder.decode()
      text += decoder.decode(value, { stream: true })
    }
    reader.cancel().catch(() => {})
    return text.slice(0, limit) + '…'
  } catch {
    return text
  }
}

function revisionOf(key: string, response: Response): number {
  const header = response.headers.get(HEADER.revision)
  const revision = header === null ? NaN : Number(header)
  if (!Number.isInteger(revision)) {
    throw new AtomKVError(`${key}: the answer carries no valid X-Revision header`, {
      code: 'http',
      status: response.status,
      key,
    })
  }
  return revision
}

/** A key's value and revision; `[null, -1]` when it does not exist. */
export type GetResult<T> = [value: T | null, revision: number]

export async function getKey<T>(transport: Transport, key: string, signal?: AbortSignal): Promise<GetResult<T>> {
  checkPath(key)
  const response = await send(transport, key, { method: 'GET', signal })
  if (response.status === 404) {
    await drain(response)
    return [null, -1]
  }
  if (!response.ok) throw await httpError(key, response)
  const revision = revisionOf(key, response)
  let text: string
  try {
    text = await response.text()
  } catch (cause) {
    if (signal?.aborted) throw new AtomKVError(`${key}: aborted`, { code: 'aborted', key, cause: signal.reason })
    throw new AtomKVError(`${key}: the answer was cut`, { code: 'network', key, cause })
  }
  try {
    return [JSON.parse(text) as T, revision]
  } catch (cause) {
    throw new AtomKVError(`${key}: the answer is not JSON`, { code: 'http', status: response.status, key, cause })
  }
}

export async function setKey(transport: Transport, key: string, value: unknown): Promise<number> {
  checkPath(key)
  const body = encodeValue(key, value)
  const response = await send(transport, key, { method: 'POST', body, headers: JSON_BODY })
  if (!response.ok) throw await httpError(key, response)
  await drain(response)
  return revisionOf(key, response)
}

/** Compare-and-swap: `true` when stored as `revision`, `false` on a conflict (409). */
export async function updateKey(transport: Transport, key: string, value: unknown, revision: number): Promise<boolean> {
  checkPath(key)
  const body = encodeValue(key, value)
  const response = await send(transport, key, {
    method: 'PUT',
    body,
    headers: { ...JSON_BODY, [HEADER.revision]: String(revision) },
  })
  if (response.status !== 409 && !response.ok) throw await httpError(key, response)
  await drain(response)
  return response.ok
}

/** What a compare-and-swap found: stored, or a conflict with the key's current value when the server sent it. */
export type SwapResult<T> =
  | { readonly stored: true }
  | { readonly stored: false; readonly current: readonly [value: T | null, revision: number] | undefined }

/**
 * Compare-and-swap that asks, on a conflict, for the key's current value
 * (`Accept: application/json`: the server then answers its `409` with the
 * value and `X-Revision`, `null` and `-1` for a missing key), so a retry
 * needs no read. A server that does not send it gives `current: undefined`.
 */
export async function swapKey<T>(transport: Transport, key: string, value: unknown, revision: number): Promise<SwapResult<T>> {
  checkPath(key)
  const body = encodeValue(key, value)
  const response = await send(transport, key, {
    method: 'PUT',
    body,
    headers: { ...JSON_BODY, accept: 'application/json', [HEADER.revision]: String(revision) },
  })
  if (response.ok) {
    await drain(response)
    return { stored: true }
  }
  if (response.status !== 409) throw await httpError(key, response)
  const header = response.headers.get(HEADER.revision)
  const type = response.headers.get('content-type') ?? ''
  if (header === null || !type.startsWith('application/json')) {
    await drain(response)
    return { stored: false, current: undefined }
  }
  try {
    return { stored: false, current: [JSON.parse(await response.text()) as T | null, Number(header)] }
  } catch {
    return { stored: false, current: undefined }
  }
}

/**
 * Removes `key`; with `revision`, only if that is its current revision.
 * `true` when removed, `false` when the key was missing (404) or at another
 * revision (409).
 */
export async function deleteKey(transport: Transport, key: string, revision?: number): Promise<boolean> {
  checkPath(key)
  const headers = revision === undefined ? undefined : { [HEADER.revision]: String(revision) }
  const response = await send(transport, key, { method: 'DELETE', headers })
  if (response.status !== 404 && response.status !== 409 && !response.ok) throw await httpError(key, response)
  await drain(response)
  return response.ok
}

const JSON_BODY = { 'content-type': 'application/json' }

/**
 * Reads a short body to its end: a fully read response lets the connection be
 * reused, where a cancelled one may be torn down.
 */
async function drain(response: Response): Promise<void> {
  await response.arrayBuffer().catch(() => {})
}
