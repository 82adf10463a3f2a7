// The Vite plugin's seed, and the move of its older `persist` file (one JSON
// snapshot) into a data directory of the durable store.

import { randomUUID } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { keyProblem, REMOVED } from '@atomkv/client/protocol'
import { encode, FORMAT } from './records.js'
import type { Write } from './store.js'

/** The older file format: entries oldest write first, values as JSON. */
interface OldSnapshot {
  atomkv: 1
  entries: { key: string; revision: number; value: unknown }[]
}

/** Key → value, or the path of a JSON file holding such an object. */
export type Seed = string | Readonly<Record<string, unknown>>

/** The entries of a file of the older format. Throws on a file that is not one. */
export async function readSnapshot(file: string): Promise<Write[]> {
  const snapshot = JSON.parse(await readFile(file, 'utf8')) as Partial<OldSnapshot>
  if (snapshot.atomkv !== 1 || !Array.isArray(snapshot.entries)) {
    throw new Error(`${file} is not an AtomKV snapshot (expected {"atomkv":1,"entries":[…]})`)
  }
  return snapshot.entries.map(({ key, revision, value }) => {
    const problem = keyProblem(key)
    if (problem) throw new TypeError(`${file}: key ${JSON.stringify(key)}: ${problem}`)
    if (!Number.isSafeInteger(revision) || revision < 0) throw new TypeError(`${file}: ${key} has no valid revision`)
    return { key, revision, json: JSON.stringify(value ?? null) }
  })
}

/**
 * When `path` is a file of the plugin's older `persist` format, moves it
 * aside (`<path>.old`) and makes `path` a data directory holding its entries,
 * revisions included. Anything else is left alone.
 */
export async function migrateSnapshotFile(path: string): Promise<boolean> {
  const found = await stat(path).catch(() => undefined)
  if (!found?.isFile()) return false
  const entries = await readSnapshot(path)
  const old = `${path}.old`
  await rename(path, old)
  await mkdir(path, { recursive: true })
  const now = Date.now()
  let text = encode({ kind: 'h', format: FORMAT, instance: randomUUID(), lastSeq: 0, removedTop: REMOVED })
  for (const { key, json, revision } of entries) text += encode({ kind: 'w', seq: 0, key, revision, writtenAt: now, json })
  text += encode({ kind: 'e', count: entries.length })
  await writeFile(join(path, 'snapshot'), text)
  return true
}

/** The seed's entries as [key, JSON text], checked: a bad key names itself. */
export async function readSeed(seed: Seed): Promise<[string, string][]> {
  const object = typeof seed === 'string' ? (JSON.parse(await readFile(seed, 'utf8')) as unknown) : seed
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new TypeError('seed must be an object of key → value (or a JSON file holding one)')
  }
  return Object.entries(object).map(([key, value]) => {
    const problem = keyProblem(key)
    if (problem) throw new TypeError(`seed key ${JSON.stringify(key)}: ${problem}`)
    return [key, JSON.stringify(value ?? null)]
  })
}
