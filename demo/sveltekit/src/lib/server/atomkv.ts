// Where the service is, and a client for one request. Server-only ($lib/server):
// SvelteKit refuses to send this module, and its private environment, to a browser.

import { env } from '$env/dynamic/private'
import { createClient, type AtomKVClient } from '@atomkv/client'

/** Where this server reaches the service, read at run time: `ATOMKV_URL=http://kv.internal:8000 node build`. */
export function serviceUrl(): string {
  return env.ATOMKV_URL || 'http://127.0.0.1:8000'
}

/** Where browsers reach it, when that is another address than the server's (a public name, a path behind the app's proxy). */
export function publicUrl(): string {
  return env.ATOMKV_PUBLIC_URL || serviceUrl()
}

/**
 * A client for one request, with SvelteKit's `fetch`. Never a module-level
 * client on the server: a cache shared between requests would show one
 * request's values to another (hydrate() keeps the first values it gets).
 * It opens no stream (nothing subscribes on the server) and holds nothing once
 * the request is done.
 */
export function requestClient(fetch: typeof globalThis.fetch): AtomKVClient {
  return createClient({ url: serviceUrl(), fetch })
}
