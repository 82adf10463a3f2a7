// Keeping a store across restarts in one JSON file, and seeding it. Used by
// the Vite plugin; the file holds each key with its revision, so a client's
// compare-and-swap after a restart is judged exactly as before it.

import { readFile, rename, writeFile } from 'node:fs/promises'
import { keyProblem } from '@atomkv/client/protocol'
import type { Logger } from './options.js'
import type { Write, WriteListener } from './store.js'

/** What a {@link Persister} saves: a store that can list all it holds (a `MemoryStore`). */
export interface SnapshotSource {
  subscribe(listener: WriteListener): () => void
  entries(): Write[]
}

/** The file format: entries oldest write first, values as JSON (not text) so the file reads well. */
interface Snapshot {
  atomkv: 1
  entries: { key: string; revision: number; value: unknown }[]
}

/** Key → value, or the path of a JSON file holding such an object. */
export type Seed = string | Readonly<Record<string, unknown>>

/** The entries saved in `file`, or `undefined` when it does not exist. Throws on a file that is not a snapshot. */
export async function readSnapshot(file: string): Promise<Write[] | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const snapshot = JSON.parse(text) as Partial<Snapshot>
  if (snapshot.atomkv !== 1 || !Array.isArray(snapshot.entries)) {
    throw new Error(`${file} is not an AtomKV snapshot (expected {"atomkv":1,"entries":[…]})`)
  }
  return snapshot.entries.map(({ key, revision, value }) => ({ key, revision, json: JSON.stringify(value ?? null) }))
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

/**
 * Writes the whole store to `file` at most once per `delayMs` after a change.
 * The file is replaced by rename, so a crash mid-write leaves the last good one.
 */
export class Persister {
  #timer: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> = Promise.resolve()
  #dirty = false
  readonly #unsubscribe: () => void

  constructor(
    readonly store: SnapshotSource,
    readonly file: string,
    readonly delayMs: number,
    readonly logger: Logger,
  ) {
    this.#unsubscribe = store.subscribe(() => this.#schedule())
  }

  /** Writes pending changes now; resolves once they are on disk. */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#dirty) {
      this.#dirty = false
      // One write at a time, in order: the last one holds the latest state.
      this.#writing = this.#writing.then(() => this.#write()).catch((error: unknown) => {
        this.logger.error(`atomkv: could not write ${this.file}`, error)
      })
    }
    return this.#writing
  }

  /** Stops listening and writes what is pending. */
  close(): Promise<void> {
    this.#unsubscribe()
    return this.flush()
  }

  #schedule(): void {
    this.#dirty = true
    this.#timer ??= setTimeout(() => void this.flush(), this.delayMs)
  }

  async #write(): Promise<void> {
    const writes = this.store.entries()
    const snapshot: Snapshot = {
      atomkv: 1,
      entries: writes.map(({ key, revision, json }) => ({ key, revision, value: JSON.parse(json) as unknown })),
    }
    const temporary = `${this.file}.${process.pid}.tmp`
    await writeFile(temporary, JSON.stringify(snapshot, null, 2) + '\n')
    await rename(temporary, this.file)
  }
}
