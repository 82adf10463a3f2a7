// Tokens with rights on keys and prefixes: one `authorize` hook, from a table
// given in code or a JSON file (`atomkv --auth tokens.json`).
//
//   { "tokens": { "<token>": { "read": ["/public/", "/room/"], "write": ["/room/"] } } }
//
// A right on a prefix (`/room/`) covers every key and prefix below it; a right
// on a key covers that key; `/` covers everything. Delete takes the write right.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { keyProblem } from '@atomkv/client/protocol'
import type { Authorize } from './access.js'

/** What one token may do: the keys and prefixes it may read, and those it may write (and delete). */
export interface TokenRights {
  read?: readonly string[]
  write?: readonly string[]
}

/** Token → rights. */
export type TokenTable = Readonly<Record<string, TokenRights>>

/** The format of an `--auth` file. */
export interface TokenFile {
  tokens: TokenTable
}

const RIGHTS = ['read', 'write'] as const

/**
 * The `authorize` hook of a token table: no token, or one not in the table,
 * is `401`; a token without the right is `403`. Tokens are looked up by
 * their SHA-256, so the lookup's time says nothing about a guessed token.
 * Throws a TypeError naming the bad entry when the table is not valid.
 */
export function tokenAuth(tokens: TokenTable | TokenFile): Authorize {
  const table = parseTokens(tokens, 'tokenAuth')
  return (request, { operation, key }) => {
    const token = request.token
    if (token === undefined) return 'unauthenticated'
    const rights = table.get(digest(token))
    if (!rights) return 'unauthenticated'
    return grants(operation === 'read' ? rights.read : rights.write, key)
  }
}

/** Reads and checks an `--auth` file; errors name the file and the bad entry. */
export function readTokenFile(file: string): TokenFile {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new TypeError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new TypeError(`${file}: not valid JSON (${(error as Error).message})`)
  }
  parseTokens(value, file)
  return value as TokenFile
}

interface Rights {
  read: readonly string[]
  write: readonly string[]
}

/** Checks a table (or a file's content) and indexes it by digest. `source` starts each error message. */
function parseTokens(value: unknown, source: string): Map<string, Rights> {
  const fail = (where: string, problem: string): never => {
    throw new TypeError(`${source}: ${where}${where ? ' ' : ''}${problem}`)
  }
  if (!isObject(value)) fail('', 'must be an object: { "tokens": { "<token>": { "read": [...], "write": [...] } } }')
  const object = value as Record<string, unknown>
  // A table given in code may skip the `tokens` wrapper.
  const wrapped = 'tokens' in object && isObject(object.tokens) && Object.keys(object).length === 1
  if (!wrapped && source !== 'tokenAuth') fail('', 'must be { "tokens": { "<token>": { "read": [...], "write": [...] } } }')
  const tokens = (wrapped ? object.tokens : object) as Record<string, unknown>
  const table = new Map<string, Rights>()
  for (const [token, rights] of Object.entries(tokens)) {
    const where = `tokens[${JSON.stringify(hint(token))}]`
    if (token.length < 8) fail(where, 'is too short: a token needs at least 8 characters (use long random ones)')
    if (/\s/.test(token)) fail(where, 'holds white space, which an Authorization header cannot carry')
    if (!isObject(rights)) fail(where, 'must be an object such as { "read": ["/room/"], "write": ["/room/"] }')
    const entry = rights as Record<string, unknown>
    for (const name of Object.keys(entry)) {
      if (!(RIGHTS as readonly string[]).includes(name)) fail(where, `has an unknown field ${JSON.stringify(name)} (only "read" and "write")`)
    }
    const parsed: Rights = { read: [], write: [] }
    for (const right of RIGHTS) {
      const paths = entry[right]
      if (paths === undefined) continue
      if (!Array.isArray(paths)) fail(`${where}.${right}`, 'must be a list of keys and prefixes, such as ["/room/"]')
      parsed[right] = (paths as unknown[]).map((path, i) => {
        const problem = typeof path !== 'string' ? 'must be a string' : path === '/' ? undefined : keyProblem(path, true)
        if (problem) fail(`${where}.${right}[${i}]`, `${JSON.stringify(path)} is not a key or prefix: ${problem}`)
        return path as string
      })
    }
    table.set(digest(token), parsed)
  }
  return table
}

/** Whether a right on one of `paths` covers `key` (a key or a prefix). */
function grants(paths: readonly string[], key: string): boolean {
  for (const path of paths) {
    if (path === key || (path.endsWith('/') && key.startsWith(path))) return true
  }
  return false
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64')
}

/** A token in an error message: enough to find it in the file, not enough to use it. */
function hint(token: string): string {
  return token.length > 8 ? `${token.slice(0, 4)}…` : token
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
