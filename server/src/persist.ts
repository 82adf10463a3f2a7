// Keeping a store across restarts in one JSON file, and seeding it. Used by
// the Vite plugin; the file holds each key with its revision, so a client's
// compare-and-swap after a restart is judged exactly as before it.

import { open, readFile, rename } from 'node:fs/promises'
import { keyProblem } from '@atomkv/client/protocol'
import type { Logger } from './options.js'
import type { ChangeListener, Write } from './store.js'

/** What a {@link Persister} saves: a store that can list all it holds (a `MemoryStore`). */
export interface SnapshotSource {
  subscribe(listener: ChangeListener): () => void
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

/** A failed write is tried again this long after, at the least. */
const RETRY_MS = 1000
/** Characters of the file written at a time. */
const PIECE_CHARS = 1 << 20

/**
 * Writes the whole store to `file` at most once per `delayMs` after a change.
 * The file is replaced by rename, so a crash mid-write leaves the last good one.
 * A failed write is logged once and tried again until one succeeds (logged too).
 */
export class Persister {
  #timer: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> = Promise.resolve()
  #failing = false
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
      this.#writing = this.#writing.then(
        () =>
          this.#write().then(
            () => {
              if (this.#failing) this.logger.warn(`atomkv: wrote ${this.file} again`)
              this.#failing = false
            },
            (error: unknown) => {
              if (!this.#failing) this.logger.error(`atomkv: could not write ${this.file}; trying again`, error)
              this.#failing = true
              this.#dirty = true
              this.#timer ??= setTimeout(() => void this.flush(), Math.max(this.delayMs, RETRY_MS))
            },
          ),
      )
    }
    return this.#writing
  }

  /** Stops listening and writes what is pending, once: a failed last write is logged, not retried. */
  async close(): Promise<void> {
    this.#unsubscribe()
    await this.flush()
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    this.#dirty = true
    this.#timer ??= setTimeout(() => void this.flush(), this.delayMs)
  }

  /**
   * Compact JSON, one entry a line, written in pieces: the stored JSON text goes
   * in as it is (no parse, no indentation that a deeply nested value would
   * multiply), and no single string has to hold the whole store.
   */
  async #write(): Promise<void> {
    const temporary = `${this.file}.${process.pid}.tmp`
    const file = await open(temporary, 'w')
    try {
      let piece = '{"atomkv":1,"entries":[\n'
      let first = true
      for (const { key, revision, json } of this.store.entries()) {
        piece += `${first ? '' : ',\n'}{"key":${JSON.stringify(key)},"revision":${revision},"value":${json}}`
        first = false
        if (piece.length > PIECE_CHARS) {
          await file.write(piece)
          piece = ''
        }
      }
      await file.write(piece + '\n]}\n')
    } finally {
      await file.close()
    }
    await rename(temporary, this.file)
  }
}
