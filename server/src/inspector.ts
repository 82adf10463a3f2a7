// The inspector: a page that browses, watches and edits the store, served at
// `/.inspect` when the service is asked to (`inspect: true`). It is three
// static files and holds no data: everything it shows or changes goes through
// the service's own API, with the rights of the token typed into it.

import { readFile } from 'node:fs/promises'
import { INSPECT_PATH, INSPECT_SCRIPT_PATH, INSPECT_STYLE_PATH } from '@atomkv/client/protocol'
import type { HeaderPairs } from './reply.js'

/** From `src/` (tests) and `dist/` (the package) alike: the files sit beside both, in `inspector/`. */
const DIR = new URL('../inspector/', import.meta.url)

const FILES: Readonly<Record<string, readonly [file: string, type: string]>> = {
  [INSPECT_PATH]: ['index.html', 'text/html; charset=utf-8'],
  [INSPECT_SCRIPT_PATH]: ['inspector.js', 'text/javascript; charset=utf-8'],
  [INSPECT_STYLE_PATH]: ['inspector.css', 'text/css; charset=utf-8'],
}

/** The paths the inspector is served at, relative to the service. */
export const INSPECTOR_PATHS = Object.keys(FILES)

/**
 * Only this origin's scripts, styles and connections (the served client and
 * the API); no inline script, no frames (its buttons write data: no
 * clickjacking), no forms posted elsewhere, and no referrer to leak a URL.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const HEADERS: HeaderPairs = [
  'cache-control', 'no-cache',
  'content-security-policy', CSP,
  'x-content-type-options', 'nosniff',
  'x-frame-options', 'DENY',
  'referrer-policy', 'no-referrer',
]

const cache = new Map<string, Promise<string>>()

/** The file served at `path` (one of {@link INSPECTOR_PATHS}) and its headers; read once, kept. */
export async function inspectorFile(path: string): Promise<{ body: string; headers: HeaderPairs }> {
  const [file, type] = FILES[path]!
  let body = cache.get(file)
  if (!body) {
    body = readFile(new URL(file, DIR), 'utf8')
    cache.set(file, body)
    // A failed read is not kept: the next request tries again.
    body.catch(() => cache.delete(file))
  }
  return { body: await body, headers: ['content-type', type, ...HEADERS] }
}

export const INSPECTOR_OFF =
  'the inspector is off: start the server with --inspect (or ATOMKV_INSPECT=1), or pass inspect: true to createAtomKV'
