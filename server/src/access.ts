// Access control: the `authorize` hook an app gives and what it is asked.
// Types only: the public surface stays free of h3's types (gate.ts asks the
// hook), so an app type-checks our declarations without h3's.

/** What a request does to a key or prefix. A stream reads each key and prefix it subscribes to. */
export type Operation = 'read' | 'write' | 'delete'

/** What is asked: an operation on a key (no trailing `/`) or a prefix (`/room/`, covering every key below it; `/` for the whole store). */
export interface AccessTarget {
  readonly operation: Operation
  readonly key: string
}

/**
 * The answer of an `authorize` hook: `true` lets the request through, `false`
 * refuses it with `403` (known, but not allowed), `'unauthenticated'` with
 * `401` and `WWW-Authenticate: Bearer` (no credentials, or ones that are not
 * valid: log in, or refresh the token). Anything else refuses with `403`.
 */
export type AccessDecision = boolean | 'unauthenticated'

/** What a hook may look at to tell who is asking. */
export interface AccessRequest {
  readonly method: string
  /** The full URL, query included. */
  readonly url: URL
  /** Every request header: `authorization`, `cookie`, `origin`, … */
  readonly headers: Headers
  /** The client's address, when the runtime gives it (behind a proxy: the proxy's). */
  readonly ip: string | undefined
  /** The token sent as `Authorization: Bearer <token>`, else as `?token=<token>`; undefined when none. */
  readonly token: string | undefined
  /** A cookie's value, percent-decoded; undefined when the request has no such cookie. */
  cookie(name: string): string | undefined
}

/**
 * Decides who may do what. Called once per key or prefix a request names (a
 * stream of ten subscriptions: ten calls, in order, stopping at the first
 * refusal), before anything is read or written. May be async. A throw is a
 * `500` (and is logged).
 */
export type Authorize = (request: AccessRequest, target: AccessTarget) => AccessDecision | Promise<AccessDecision>
