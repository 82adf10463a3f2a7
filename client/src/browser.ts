// The browser build served at `GET /`: a global `AtomKV` whose default client
// talks to the server the script was loaded from, so a page written for the
// original AtomKV (`AtomKV.get/set/update/subscribe`) works unchanged.
//
// A server with access control: load the script as `<script src=".../?token=…">`
// (a script tag cannot send headers; the script itself is served without one),
// or set `AtomKV.token` to a string or a function before the first call.

import { createClient } from './client.js'
import { AtomKVConflictError, AtomKVError } from './errors.js'
import type { TokenOption } from './http.js'
import { QUERY } from './protocol/index.js'

// `currentScript` is only set while this script first runs: read it now.
const script = typeof document === 'undefined' ? null : document.currentScript
const src = script && 'src' in script ? script.src : ''
const base = src ? new URL('.', src).href.replace(/\/$/, '') : location.origin

let token: TokenOption | undefined = (src && new URL(src).searchParams.get(QUERY.token)) || undefined
const client = createClient({
  url: base,
  // Read at each request, so `AtomKV.token = …` takes effect from the next one.
  token: ({ refresh }) => (typeof token === 'function' ? token({ refresh }) : token),
})

const AtomKV = {
  get: client.get,
  set: client.set,
  update: client.update,
  delete: client.delete,
  modify: client.modify,
  subscribe: client.subscribe,
  watch: client.watch,
  onStatus: client.onStatus,
  close: client.close,
  get status() {
    return client.status
  },
  /** The access token sent with every request: a string, or a function returning one (or a promise of one). */
  get token(): TokenOption | undefined {
    return token
  },
  set token(value: TokenOption | undefined) {
    token = value
  },
  createClient,
  AtomKVError,
  AtomKVConflictError,
}

// The IIFE's `var AtomKV =` makes it global in a classic script; this covers a bundler importing the file.
;(globalThis as { AtomKV?: typeof AtomKV }).AtomKV = AtomKV

export default AtomKV
