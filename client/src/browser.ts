// The browser build served at `GET /`: a global `AtomKV` whose default client
// talks to the server the script was loaded from, so a page written for the
// original AtomKV (`AtomKV.get/set/update/subscribe`) works unchanged.

import { createClient } from './client.js'
import { AtomKVConflictError, AtomKVError } from './errors.js'

// `currentScript` is only set while this script first runs: read it now.
const script = typeof document === 'undefined' ? null : document.currentScript
const src = script && 'src' in script ? script.src : ''
const base = src ? new URL('.', src).href.replace(/\/$/, '') : location.origin

const client = createClient({ url: base })

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
  createClient,
  AtomKVError,
  AtomKVConflictError,
}

// The IIFE's `var AtomKV =` makes it global in a classic script; this covers a bundler importing the file.
;(globalThis as { AtomKV?: typeof AtomKV }).AtomKV = AtomKV

export default AtomKV
