// Answers, written once for every runtime. Over HTTP/1 on Node (srvx, a Node
// handler, Vite's middleware stack) an answer goes straight to the Node
// response with prebuilt header pairs, and the handler returns h3's "handled"
// marker: no web Response to build, copy and walk again per request.
// Elsewhere (the fetch handler, HTTP/2, other runtimes) it is a Response.
// Every answer carries the CORS headers, errors included.

import type { ServerResponse } from 'node:http'
import type { H3Event } from 'h3'
import { FastResponse } from 'srvx'
import { CORS_HEADERS, type HeaderPairs } from './cors.js'

/** h3's marker for "the handler has written the response itself". */
export const HANDLED: unique symbol = Symbol.for('h3.handled') as never

export type Reply = Response | typeof HANDLED

export type { HeaderPairs } from './cors.js'

export { CORS_HEADERS }

const CORS = Symbol('atomkv.cors')

/** Gives this request's answers other CORS headers than the default ones (an origin list, access control). */
export function setCors(event: H3Event, headers: HeaderPairs): void {
  ;(event.context as { [CORS]?: HeaderPairs })[CORS] = headers
}

/** The CORS headers of this request's answers: the default ones unless {@link setCors} said otherwise. */
export function corsOf(event: H3Event | undefined, fallback = CORS_HEADERS): HeaderPairs {
  return (event?.context as { [CORS]?: HeaderPairs } | undefined)?.[CORS] ?? fallback
}

/** A stream's head, besides CORS. HTTP/2 forbids connection headers (a dev server on https may speak it). */
export const SSE_HEADERS_H2: HeaderPairs = [
  'content-type', 'text/event-stream',
  'cache-control', 'no-cache',
  // Tells nginx not to buffer the stream.
  'x-accel-buffering', 'no',
]
export const SSE_HEADERS: HeaderPairs = [...SSE_HEADERS_H2, 'connection', 'keep-alive']

const TEXT = ['content-type', 'text/plain; charset=utf-8'] as const

// Every status the server answers: a Node response written directly takes its
// reason phrase from here, and would send an empty one for a status left out.
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
}

/** The Node response to write to directly, when there is one speaking HTTP/1. */
function nodeResponse(event: H3Event): ServerResponse | undefined {
  const node = event.runtime?.node
  if (!node?.res || node.req.httpVersionMajor !== 1 || node.res.headersSent) return undefined
  return node.res as ServerResponse
}

/** An answer with `body` (or none), the CORS headers and `headers`. A 204 has no body, nor a length. */
export function reply(event: H3Event | undefined, status: number, body: string | null, headers: HeaderPairs = []): Reply {
  const res = event && nodeResponse(event)
  if (res) {
    const length = status === 204 ? [] : ['content-length', String(body === null ? 0 : Buffer.byteLength(body))]
    res.writeHead(status, STATUS_TEXT[status] ?? '', [...corsOf(event), ...headers, ...length])
    res.end(status === 204 ? undefined : (body ?? undefined))
    return HANDLED
  }
  return webResponse(body, status, body === null && status !== 204 ? [...headers, 'content-length', '0'] : headers, corsOf(event))
}

/** A web Response with CORS headers (the default ones unless given), for a body a Node response cannot take as is (a stream). */
export function webResponse(body: BodyInit | null, status: number, headers: HeaderPairs = [], cors = CORS_HEADERS): Response {
  const all = [...cors, ...headers]
  const init: [string, string][] = []
  for (let i = 0; i < all.length; i += 2) init.push([all[i]!, all[i + 1]!])
  return new FastResponse(body, { status, statusText: STATUS_TEXT[status] ?? '', headers: init })
}

/** A short text/plain web Response, for errors answered outside a handler. */
export function textResponse(status: number, message: string, cors = CORS_HEADERS): Response {
  return webResponse(message, status, TEXT, cors)
}

/** A short text/plain answer, for errors. */
export function text(event: H3Event | undefined, status: number, message: string, headers: HeaderPairs = []): Reply {
  return reply(event, status, message, [...TEXT, ...headers])
}

export function json(event: H3Event, value: unknown): Reply {
  return reply(event, 200, JSON.stringify(value), ['content-type', 'application/json', 'cache-control', 'no-cache'])
}

/**
 * A request refused with a short text answer: handlers throw it, and one
 * place answers it. Not an `Error`: it is an answer, not a failure, and a
 * 404 or a 409 should not pay for a stack trace.
 */
export class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly headers: HeaderPairs = [],
  ) {}
}

/** A path or query entry quoted for an error message, shortened so a huge one cannot bloat the answer. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
}
