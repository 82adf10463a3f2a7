// Where the AtomKV service is, read from the environment at request time (the
// page renders per request), so one build runs against any service.

const DEFAULT_URL = 'http://127.0.0.1:8000'

/** The URL this app server reads the keys from: ATOMKV_URL. */
export function serverUrl(): string {
  return process.env.ATOMKV_URL || DEFAULT_URL
}

/**
 * The URL browsers connect to: ATOMKV_PUBLIC_URL, else the server's. They
 * differ when the app server reaches the service on a private address (a
 * container's name, localhost) and browsers through its public one. Not a
 * NEXT_PUBLIC_ variable: those are inlined into the bundles at build time.
 */
export function browserUrl(): string {
  return process.env.ATOMKV_PUBLIC_URL || serverUrl()
}
