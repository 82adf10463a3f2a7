// Response helpers: every answer carries the CORS headers, errors included.

import { FastResponse } from 'srvx'
import { concatBytes } from './bytes.js'

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': '*',
  'access-control-allow-headers': '*',
  'access-control-expose-headers': 'X-Revision, X-AtomKV-Instance',
}

/** For HTTP/2, which forbids connection headers (a dev server on https may speak it). */
export const SSE_HEADERS_H2: Readonly<Record<string, string>> = {
  ...CORS_HEADERS,
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // Tells nginx not to buffer the stream.
  'x-accel-buffering': 'no',
}

export const SSE_HEADERS: Readonly<Record<string, string>> = { ...SSE_HEADERS_H2, connection: 'keep-alive' }

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
}

export function respond(body: BodyInit | null, status: number, headers?: Record<string, string>): Response {
  // srvx's Response writes straight to Node, with a Content-Length for text bodies.
  return new FastResponse(body, {
    status,
    statusText: STATUS_TEXT[status] ?? '',
    headers: { ...CORS_HEADERS, ...(body === null ? { 'content-length': '0' } : {}), ...headers },
  })
}

/** A short text/plain answer, for errors. */
export function text(status: number, message: string, headers?: Record<string, string>): Response {
  return respond(message, status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
}

export function json(value: unknown): Response {
  return respond(JSON.stringify(value), 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' })
}

/** A path or query entry quoted for an error message, shortened so a huge one cannot bloat the answer. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
}

export type BodyResult = { ok: true; json: string } | { ok: false; response: Response }

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Reads a JSON body of at most `limit` bytes and re-serializes it. The limit
 * holds for the declared Content-Length and for the bytes actually read, so a
 * chunked body cannot get past it.
 */
export async function readJSON(request: Request, limit: number): Promise<BodyResult> {
  const tooLarge = (): BodyResult => ({
    ok: false,
    // The rest of the body is not read: close the connection rather than drain it.
    response: text(413, `the body is larger than ${limit} bytes`, { connection: 'close' }),
  })
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > limit) return tooLarge()

  const chunks: Uint8Array[] = []
  let size = 0
  if (request.body) {
    const reader = request.body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        size += value.byteLength
        if (size > limit) {
          reader.releaseLock()
          return tooLarge()
        }
        chunks.push(value)
      }
    } catch {
      // The client went away mid-body; nobody will read this answer.
      return { ok: false, response: text(400, 'the body could not be read') }
    }
  }
  if (size === 0) return { ok: false, response: text(400, 'the body is empty; expected JSON') }

  let source: string
  try {
    source = decoder.decode(concatBytes(chunks, size))
  } catch {
    return { ok: false, response: text(400, 'the body is not valid UTF-8') }
  }
  try {
    return { ok: true, json: JSON.stringify(JSON.parse(source, finiteNumbers)) }
  } catch (error) {
    const why = error instanceof RangeError ? error.message : 'the body is not valid JSON'
    return { ok: false, response: text(400, why) }
  }
}

export type RevisionResult = { ok: true; revision: number } | { ok: false; response: Response }

/** `X-Revision` as sent with PUT: an integer, which may be one no key can have (then it conflicts). */
export function readRevision(header: string | null): RevisionResult {
  const value = header?.trim() ?? ''
  if (!/^-?\d+$/.test(value)) {
    const problem = header === null ? 'is missing' : `${quote(header)} is not an integer`
    return { ok: false, response: text(400, `X-Revision ${problem}; PUT needs the next revision number`) }
  }
  const revision = Number(value)
  return { ok: true, revision: Number.isSafeInteger(revision) ? revision : -1 }
}

/** Whether a query flag such as `initial` is on: present, and not `0`, `false` or `no`. */
export function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name)
  return value !== null && !['0', 'false', 'no'].includes(value.toLowerCase())
}

/** A number too large for a double (1e400) would be stored as `null`: refuse it instead. */
function finiteNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError('the body holds a number too large to store')
  }
  return value
}

