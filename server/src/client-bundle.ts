// The browser build of @atomkv/client, served at `GET /`. Read once, on first
// request; a missing build is not cached, so building it later needs no restart.

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

let bundle: Promise<string> | undefined

/** The script's text, or `undefined` when the client has not been built. */
export async function clientBundle(): Promise<string | undefined> {
  bundle ??= (async () => readFile(createRequire(import.meta.url).resolve('@atomkv/client/browser'), 'utf8'))()
  try {
    return await bundle
  } catch {
    bundle = undefined
    return undefined
  }
}
