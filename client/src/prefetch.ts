// Reading keys on a server for the first render of a page: the values go into
// the HTML and, through `cache.hydrate()` (the React provider's `initialData`),
// into the client's cache, so the page shows them at once and the browser
// reads nothing twice; its stream brings what changes afterwards.

import type { Prefetched } from './cache/types.js'
import type { AnyAtomKVClient } from './typed.js'
import { untyped } from './typed.js'

/**
 * `[value, revision]` of each key (`[null, -1]` when missing), read with
 * `client` (from a server: a client of the service's URL, or of an embedded
 * `createAtomKV` through its `fetch`). Plain JSON: safe to pass from a server
 * component to a client one, or to embed in a page.
 */
export async function prefetch(client: AnyAtomKVClient, keys: readonly string[]): Promise<Prefetched> {
  const kv = untyped(client)
  const entries = await Promise.all(keys.map(async (key) => [key, await kv.get(key)] as const))
  return Object.fromEntries(entries)
}
