// The app's routing layer: the methods a path takes, the CORS preflight, one
// place that answers a refused request, and a fetch that survives a URL h3
// cannot parse.

import type { H3, H3Event } from 'h3'
import { CORS_HEADERS, HANDLED, type HeaderPairs, Refusal, type Reply, reply, text, textResponse } from './reply.js'

export type Handler = (event: H3Event) => Reply | Promise<Reply>
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/**
 * The app's fetch, answering 400 to a request whose URL cannot be parsed (a
 * `Host` such as `1.2.3.4.5` with a dot-segment path): h3 builds its event,
 * and with it the URL, before its own error handling runs, so such a request
 * would otherwise end as a bare 500 without CORS headers.
 */
export function guardURL(app: Pick<H3, 'fetch'>, cors: HeaderPairs = CORS_HEADERS): (request: Request) => Response | Promise<Response> {
  return (request) => {
    try {
      return app.fetch(request)
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_INVALID_URL') throw error
      return textResponse(400, 'the URL is malformed', cors)
    }
  }
}

/**
 * Run first on every request when the service has an origin list or access
 * control: sets the answer's CORS headers, and throws a {@link Refusal} for a
 * request the service will not serve at all (a foreign origin).
 */
export type Admit = (event: H3Event) => void

/**
 * Answers OPTIONS (the CORS preflight) and 405 for methods not listed, and
 * turns a {@link Refusal} thrown by a handler into its short text answer.
 */
export function methods(handlers: Partial<Record<Method, Handler>>, answered: Answered, admit?: Admit): Handler {
  const allow = [...Object.keys(handlers), 'OPTIONS'].join(', ')
  return (event) => {
    const started = performance.now()
    const method = event.req.method
    const handler = handlers[method as Method]
    let result: Reply | Promise<Reply>
    try {
      admit?.(event)
      if (method === 'OPTIONS') result = reply(event, 200, null, ['allow', allow, 'access-control-max-age', '86400'])
      else if (!handler) result = text(event, 405, `${method} is not allowed here; allowed: ${allow}`, ['allow', allow])
      else result = handler(event)
    } catch (error) {
      result = refused(event, error)
    }
    if (!(result instanceof Promise)) return answered(event, result, started)
    // One promise per request, whether it is answered or refused.
    return result.then(
      (done) => answered(event, done, started),
      (error: unknown) => answered(event, refused(event, error), started),
    )
  }
}

/** The short text answer of a {@link Refusal}; anything else is a failure, for h3's error handler. */
function refused(event: H3Event, error: unknown): Reply {
  if (!(error instanceof Refusal)) throw error
  return text(event, error.status, error.message, error.headers)
}

/** Told of every answer (for metrics and request logs); hands the answer on. */
export type Answered = (event: H3Event, answer: Reply, started: number) => Reply

/** The status of an answer, written to Node or not. */
export function statusOf(event: H3Event, answer: Reply): number {
  return answer === HANDLED ? (event.runtime?.node?.res?.statusCode ?? 200) : answer.status
}

