/** What went wrong, for code that branches on it. */
export type AtomKVErrorCode =
  | 'invalid-key' // rejected before any request
  | 'invalid-value' // not JSON-serializable (undefined, a function, a BigInt, a cycle): rejected before any request
  | 'too-many-subscriptions' // a connection carries at most 1000 keys and prefixes
  | 'http' // the server answered with an error status
  | 'unauthenticated' // 401: no token or credentials, or ones the server does not take (or the token function threw)
  | 'forbidden' // 403: the token or session may not do this to this key (or the page's origin is not allowed)
  | 'network' // no answer: the request failed or was cut
  | 'conflict' // modify() gave up after its attempts
  | 'overflow' // a subscription's queue passed its bound
  | 'too-large' // the stream keeps sending an event larger than the client's maxEventSize
  | 'aborted' // an AbortSignal fired
  | 'closed' // the client was closed

export class AtomKVError extends Error {
  override name = 'AtomKVError'
  readonly code: AtomKVErrorCode
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined
  readonly key: string | undefined

  constructor(
    message: string,
    options: { code: AtomKVErrorCode; status?: number; key?: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = options.code
    this.status = options.status
    this.key = options.key
  }
}

/** modify() ran out of attempts; carries the last value and revision it saw. */
export class AtomKVConflictError<T = unknown> extends AtomKVError {
  override name = 'AtomKVConflictError'
  readonly value: T | null
  readonly revision: number
  readonly attempts: number

  constructor(key: string, value: T | null, revision: number, attempts: number) {
    super(`${key}: gave up after ${attempts} conflicting attempts (last revision ${revision})`, {
      code: 'conflict',
      status: 409,
      key,
    })
    this.value = value
    this.revision = revision
    this.attempts = attempts
  }
}
