// The durable store: the in-memory store, with every change appended to a log
// on disk before anyone is told of it, and the log compacted into a snapshot
// in the background.
//
// A data directory holds:
//   LOCK       the pid and host of the server using it
//   snapshot   the state up to a change (its header names which), then the
//              latest changes before it (so streams resume across a restart
//              even after a compaction), replaced by rename
//   log.<n>    the changes since, one record a line (records.ts), oldest file first
//
// Writes are grouped: every change recorded while the previous group is on its
// way to disk goes in the next one, written (and with `fsync: 'always'`
// synced) as one. Only then are listeners told and the writers answered, so
// no stream carries a change, and no `200` acknowledges one, that a crash
// could take back.

import { randomUUID } from 'node:crypto'
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, truncate, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { keyProblem, REMOVED } from '@atomkv/client/protocol'
import { Fifo } from './fifo.js'
import { MemoryStore, type MemoryStoreOptions, type TimedWrite } from './memory-store.js'
import { type Logger, resolveLogger } from './options.js'
import { decode, encode, FORMAT, type LogRecord } from './records.js'
import {
  type Change,
  type ChangeListener,
  type DeleteResult,
  type Entry,
  type Store,
  type StoreHistory,
  StoreWriteError,
  type Write,
  tellAll,
} from './store.js'

/**
 * When a change is on disk before it is acknowledged: `always` (after an
 * fsync: a crash of the machine loses nothing acknowledged), `interval` (an
 * fsync every second, like Redis's `everysec`: a crash of the machine may lose
 * the last second; of the process alone, nothing), `never` (the OS writes it
 * back when it likes).
 */
export type FsyncPolicy = 'always' | 'interval' | 'never'
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never']

export interface FileStoreOptions extends MemoryStoreOptions {
  /** Default `always`. */
  fsync?: FsyncPolicy
  /** The log is compacted into a new snapshot once it grows past this many bytes. Default 64 MiB. */
  compactAfterBytes?: number
  /** Default `console`; `false` logs nothing. */
  logger?: Logger | false
}

export const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024
/**
 * Changes kept for the service's resume backlog after a restart (the
 * backlog's own defaults: it keeps no more than these).
 */
const HISTORY_MAX = 10_000
const HISTORY_MAX_BYTES = 16 * 1024 * 1024
const INTERVAL_MS = 1000

/** A data directory that cannot be opened: in use, damaged, or of an unknown format. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

/** Changes on their way to disk together; `done` settles once they are there and told. */
interface Group {
  text: string
  settled: boolean
  readonly changes: Change[]
  readonly done: Promise<void>
  resolve(): void
  reject(error: unknown): void
}

function group(): Group {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  done.catch(() => {}) // a writer that awaits it sees the error; nobody else must
  const made: Group = {
    text: '',
    settled: false,
    changes: [],
    done,
    resolve: () => {
      made.settled = true
      resolve()
    },
    reject: (error) => {
      made.settled = true
      reject(error)
    },
  }
  return made
}

/** Opens (or creates) the data directory `dir` and loads what it holds. */
export async function fileStore(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
  const store = new FileStore(dir, options)
  await store.open()
  return store
}

export class FileStore implements Store {
  readonly dir: string
  readonly fsync: FsyncPolicy
  readonly compactAfterBytes: number
  history: StoreHistory | undefined
  readonly #memory: MemoryStore
  readonly #logger: Logger
  readonly #logError = (message: string, error: unknown) => this.#logger.error(message, error)
  readonly #listeners = new Set<ChangeListener>()
  #log: FileHandle | undefined
  #logNumber = 0
  #logBytes = 0
  /** The seq of the last change recorded (written or not). */
  #seq = 0
  /** The highest revision a removed key had reached, ever. */
  #removedTop = REMOVED
  #instance = ''
  /** The group taking changes now, and the latest one made (taking, or on its way to disk). */
  #open: Group | undefined
  #latest: Group | undefined
  #flushing = false
  #unsynced = false
  #interval: ReturnType<typeof setInterval> | undefined
  #compacting: Promise<void> | undefined
  /** The latest records, for the next snapshot's history; bounded by count and bytes. */
  readonly #recent = new Fifo<string>()
  #recentBytes = 0
  #failure: Error | undefined
  #closed = false

  constructor(dir: string, options: FileStoreOptions = {}) {
    this.dir = dir
    this.fsync = options.fsync ?? 'always'
    if (!FSYNC_POLICIES.includes(this.fsync)) {
      throw new RangeError(`fsync must be one of ${FSYNC_POLICIES.join(', ')}, got ${String(this.fsync)}`)
    }
    this.compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES
    if (!(this.compactAfterBytes >= 1)) throw new RangeError(`compactAfterBytes must be at least 1, got ${this.compactAfterBytes}`)
    this.#logger = resolveLogger(options.logger)
    // Kept forever unless asked: a durable store is for data meant to stay.
    this.#memory = new MemoryStore({ maxKeys: options.maxKeys, expireAfterMs: options.expireAfterMs ?? 0 })
    this.#memory.subscribe((change) => this.#record(change))
  }

  get maxKeys(): number {
    return this.#memory.maxKeys
  }

  get expireAfterMs(): number {
    return this.#memory.expireAfterMs
  }

  /** Locks the directory, loads the snapshot and replays the log. Called once, by {@link fileStore}. */
  async open(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true })
    } catch (error) {
      throw new DataDirError(`cannot create ${this.dir}: ${(error as Error).message}`)
    }
    const unclean = await this.#lock()
    try {
      await this.#load(unclean)
    } catch (error) {
      await this.#unlock()
      throw error
    }
    if (this.fsync === 'interval') {
      this.#interval = setInterval(() => void this.#syncNow(), INTERVAL_MS)
      this.#interval.unref?.()
    }
  }

  get(key: string): Promise<Entry | undefined> {
    // With `always`, nothing is read that is not on disk yet.
    const pending = this.#latest
    if (this.fsync === 'always' && pending && !pending.settled) {
      return pending.done.then(
        () => this.#memory.get(key),
        () => this.#memory.get(key),
      )
    }
    return this.#memory.get(key)
  }

  set(key: string, json: string): Promise<Entry> {
    return this.#durably(() => this.#memory.set(key, json))
  }

  update(key: string, json: string, revision: number): Promise<Entry | undefined> {
    return this.#durably(() => this.#memory.update(key, json, revision))
  }

  delete(key: string, revision?: number): Promise<DeleteResult> {
    return this.#durably(() => this.#memory.delete(key, revision))
  }

  /**
   * The memory store's snapshot, returned once every change it may include has
   * been told to listeners: a stream then never gets a value in its snapshot
   * before the same change arrives live.
   */
  async list(subscriptions: readonly string[]): Promise<Write[]> {
    const entries = await this.#memory.list(subscriptions)
    await this.#latest?.done.catch(() => {})
    return entries
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  size(): number {
    return this.#memory.size()
  }

  chars(): number {
    return this.#memory.chars()
  }

  /** Every live entry, oldest write first. */
  entries(): Write[] {
    return this.#memory.entries()
  }

  /** Writes a snapshot of everything now and starts a new log, in the background unless awaited. */
  compact(): Promise<void> {
    this.#compacting ??= this.#compact().finally(() => (this.#compacting = undefined))
    return this.#compacting
  }

  /** Writes what is pending, compacts, and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#interval)
    this.#memory.close()
    await this.#latest?.done.catch(() => {})
    await this.#compacting?.catch(() => {})
    if (!this.#failure) {
      try {
        await this.#rotate() // so the snapshot covers every log but an empty one
        await this.#compact()
      } catch (error) {
        this.#logger.error(`atomkv: could not compact ${this.dir} on close; its log is kept`, error)
      }
    }
    await this.#log?.close().catch(() => {})
    this.#log = undefined
    this.#listeners.clear()
    await this.#unlock()
  }

  // --- writing ----------------------------------------------------------------

  /** Runs a memory-store operation, then waits until what it changed is on disk and told. */
  async #durably<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#failure) throw this.#failure
    if (this.#closed) throw new StoreWriteError('the store is closed')
    const before = this.#seq
    const result = operation() // records its change, if any, synchronously
    const group = this.#seq === before ? undefined : this.#open
    const value = await result
    await group?.done
    return value
  }

  #record(change: Change): void {
    const seq = ++this.#seq
    const { key, revision } = change
    let line: string
    if (revision === REMOVED) {
      const removedRevision = change.removedRevision ?? 0
      if (removedRevision > this.#removedTop) this.#removedTop = removedRevision
      line = encode({ kind: 'd', seq, key, removedRevision })
    } else {
      line = encode({ kind: 'w', seq, key, revision, writtenAt: change.writtenAt ?? Date.now(), json: change.json })
    }
    this.#remember(line)
    let open = this.#open
    if (!open) {
      open = this.#open = this.#latest = group()
      if (!this.#flushing) {
        this.#flushing = true
        // After the current I/O phase: every request read in it joins this group.
        setImmediate(() => void this.#flush())
      }
    }
    open.text += line
    open.changes.push(change)
  }

  /** Writes the groups one after another while there are any. */
  async #flush(): Promise<void> {
    while (this.#open) {
      const current = this.#open
      this.#open = undefined
      try {
        if (this.#failure) throw this.#failure
        await this.#log!.appendFile(current.text)
        this.#logBytes += Buffer.byteLength(current.text)
        if (this.fsync === 'always') await this.#log!.datasync()
        else this.#unsynced = true
      } catch (error) {
        this.#fail(error)
        current.reject(this.#failure)
        continue
      }
      for (const change of current.changes) this.#tell(change)
      current.resolve()
      if (this.#logBytes > this.compactAfterBytes && !this.#compacting && !this.#closed) {
        // Between two groups: the new log starts exactly after the last record written.
        try {
          await this.#rotate()
          this.compact().catch((error: unknown) => this.#logger.error(`atomkv: could not compact ${this.dir}`, error))
        } catch (error) {
          this.#fail(error)
        }
      }
    }
    this.#flushing = false
  }

  #remember(line: string): void {
    this.#recent.push(line)
    this.#recentBytes += line.length
    while (this.#recent.size > HISTORY_MAX || this.#recentBytes > HISTORY_MAX_BYTES) {
      this.#recentBytes -= this.#recent.shift()!.length
    }
  }

  #tell(change: Change): void {
    tellAll(this.#listeners, change, this.#logError)
  }

  /** The disk refused a write: from now on every write is refused, with why; reads go on. */
  #fail(error: unknown): void {
    if (this.#failure) return
    const reason = error instanceof Error ? error.message : String(error)
    this.#failure = new StoreWriteError(`cannot write the data directory ${this.dir}: ${reason}`)
    this.#logger.error(`atomkv: ${this.#failure.message}; refusing writes from now on`, error)
  }

  async #syncNow(): Promise<void> {
    if (!this.#unsynced || !this.#log) return
    this.#unsynced = false
    await this.#log.datasync().catch((error: unknown) => this.#fail(error))
  }

  // --- the log files and the snapshot ---------------------------------------

  #logPath(n: number): string {
    return join(this.dir, `log.${n}`)
  }

  /** Starts log `n` with a header: the instance it belongs to and where it starts. */
  async #startLog(n: number): Promise<void> {
    const log = await open(this.#logPath(n), 'a')
    const header = encode({ kind: 'h', format: FORMAT, instance: this.#instance, lastSeq: this.#seq, removedTop: this.#removedTop })
    await log.appendFile(header)
    await log.datasync()
    this.#log = log
    this.#logNumber = n
    this.#logBytes = Buffer.byteLength(header)
  }

  /** Moves appends to a new log file; the old one is closed once the snapshot covers it. */
  async #rotate(): Promise<void> {
    const old = this.#log
    await this.#startLog(this.#logNumber + 1)
    await old?.close()
  }

  async #compact(): Promise<void> {
    // What the snapshot holds is fixed here, in one step: the state and the last change in it.
    // Changes recorded but not written yet have a seq at most `lastSeq`: replay skips them.
    const entries = this.#memory.dump()
    const history = [...this.#recent]
    const lastSeq = this.#seq
    const removedTop = this.#removedTop
    const upTo = this.#logNumber // logs before this one hold only changes the snapshot covers
    const temporary = join(this.dir, `snapshot.${process.pid}.tmp`)
    const file = await open(temporary, 'w')
    try {
      let piece = encode({ kind: 'h', format: FORMAT, instance: this.#instance, lastSeq, removedTop })
      for (const { key, json, revision, writtenAt } of entries) {
        piece += encode({ kind: 'w', seq: 0, key, revision, writtenAt, json })
        if (piece.length > 1 << 20) {
          await file.appendFile(piece)
          piece = ''
        }
      }
      for (const line of history) {
        piece += line
        if (piece.length > 1 << 20) {
          await file.appendFile(piece)
          piece = ''
        }
      }
      await file.appendFile(piece + encode({ kind: 'e', count: entries.length }))
      await file.datasync()
    } finally {
      await file.close()
    }
    await rename(temporary, join(this.dir, 'snapshot'))
    await syncDir(this.dir)
    for (const n of await this.#logNumbers()) if (n < upTo) await unlink(this.#logPath(n))
  }

  async #logNumbers(): Promise<number[]> {
    const names = await readdir(this.dir)
    return names
      .map((name) => /^log\.(\d+)$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }

  /** Reads the snapshot and the logs after it into the memory store. */
  async #load(unclean: boolean): Promise<void> {
    const state = new Map<string, TimedWrite>()
    let instance: string | undefined
    let lastSeq = 0
    let removedTop = REMOVED
    const changes: Change[] = []
    const snapshotPath = join(this.dir, 'snapshot')
    let text: string | undefined
    try {
      text = await readFile(snapshotPath, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    if (text !== undefined) {
      const snapshot = readSnapshot(snapshotPath, text)
      instance = snapshot.instance
      lastSeq = snapshot.lastSeq
      removedTop = snapshot.removedTop
      for (const entry of snapshot.entries) state.set(entry.key, entry)
      for (const record of snapshot.history) changes.push(asChange(record))
    }
    const snapshotRemovedTop = removedTop

    const numbers = await this.#logNumbers()
    for (const [i, n] of numbers.entries()) {
      const path = this.#logPath(n)
      const content = await readFile(path, 'utf8')
      const last = i === numbers.length - 1
      const { records, header, validBytes, problem } = readLog(path, content, last)
      if (problem) {
        // A crash mid-write tore the last record: keep everything before it.
        this.#logger.warn(`atomkv: ${path}: ${problem}; keeping the ${records.length} records before it`)
        await truncate(path, validBytes)
      }
      if (header) instance = header.instance // the newest file's name holds
      for (const record of records) {
        if (record.seq <= lastSeq) continue // the snapshot has it
        if (record.seq !== lastSeq + 1) {
          throw new DataDirError(`${path}: record ${record.seq} follows record ${lastSeq}: records are missing`)
        }
        lastSeq = record.seq
        const change = apply(state, record)
        if (change.revision === REMOVED && change.removedRevision! > removedTop) removedTop = change.removedRevision!
        changes.push(change)
        if (changes.length > HISTORY_MAX * 2) changes.splice(0, changes.length - HISTORY_MAX)
      }
    }

    for (const [key] of state) {
      const problem = keyProblem(key)
      if (problem) throw new DataDirError(`${this.dir}: the stored key ${JSON.stringify(key)} is invalid: ${problem}`)
    }
    try {
      this.#memory.load(state.values())
    } catch (error) {
      throw new DataDirError(`${this.dir}: cannot load its ${state.size} keys: ${(error as Error).message}`)
    }
    this.#seq = lastSeq
    this.#removedTop = removedTop
    for (const change of changes.slice(-HISTORY_MAX)) this.#remember(encodeChange(change))
    // After a crash whose unsynced tail the OS may have lost, ids the old
    // instance sent may name changes that are gone: a new name makes every
    // client that resumes reset instead.
    const trusted = instance !== undefined && !(unclean && this.fsync !== 'always')
    this.#instance = trusted ? instance! : randomUUID()
    this.history = {
      instance: this.#instance,
      changes: trusted ? changes.slice(-HISTORY_MAX) : [],
      removedTop: trusted ? snapshotRemovedTop : removedTop,
    }
    const next = numbers.length === 0 ? 1 : numbers.at(-1)! + (trusted ? 0 : 1)
    if (trusted && numbers.length > 0) {
      this.#log = await open(this.#logPath(next), 'a')
      this.#logNumber = next
      this.#logBytes = (await this.#log.stat()).size
    } else {
      await this.#startLog(next)
    }
  }

  // --- the lock ---------------------------------------------------------------

  get #lockPath(): string {
    return join(this.dir, 'LOCK')
  }

  /** Takes the directory; true when a server holding it before died without closing. */
  async #lock(): Promise<boolean> {
    const me = `${process.pid}@${hostname()}`
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.#lockPath, 'wx')
        writeSync(fd, me)
        closeSync(fd)
        return attempt > 0
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const holder = readFileSync(this.#lockPath, 'utf8').trim()
      const [pid, host] = holder.split('@')
      if (host !== hostname()) {
        throw new DataDirError(`${this.dir} is in use by ${holder}; if that server is gone, remove ${this.#lockPath}`)
      }
      if (alive(Number(pid))) {
        throw new DataDirError(`${this.dir} is in use by another running server (pid ${pid})`)
      }
      this.#logger.warn(`atomkv: ${this.dir} was not closed cleanly (pid ${pid} is gone); recovering`)
      await rm(this.#lockPath, { force: true })
    }
    throw new DataDirError(`${this.dir}: could not take ${this.#lockPath}`)
  }

  async #unlock(): Promise<void> {
    await rm(this.#lockPath, { force: true })
  }
}

/** Applies a log record to the state being rebuilt; returns it as a change. */
function apply(state: Map<string, TimedWrite>, record: LogRecord): Change {
  const change = asChange(record)
  state.delete(record.key) // to the end: the map stays in write order
  if (record.kind === 'w') state.set(record.key, { key: record.key, json: record.json, revision: record.revision, writtenAt: record.writtenAt })
  return change
}

function asChange(record: LogRecord): Change & { seq: number } {
  const { key, seq } = record
  if (record.kind === 'd') return { seq, key, json: 'null', revision: REMOVED, removedRevision: record.removedRevision }
  return { seq, key, json: record.json, revision: record.revision, writtenAt: record.writtenAt }
}

function encodeChange(change: Change & { seq?: number }): string {
  const seq = change.seq ?? 0
  if (change.revision === REMOVED) return encode({ kind: 'd', seq, key: change.key, removedRevision: change.removedRevision ?? 0 })
  return encode({ kind: 'w', seq, key: change.key, revision: change.revision, writtenAt: change.writtenAt ?? 0, json: change.json })
}

interface ReadLog {
  records: LogRecord[]
  header: { instance: string } | undefined
  validBytes: number
  problem: string | undefined
}

/** The records of one log file. Only the last file's last line may be damaged; elsewhere damage is an error. */
function readLog(path: string, content: string, last: boolean): ReadLog {
  const records: LogRecord[] = []
  let header: { instance: string } | undefined
  let offset = 0
  let line = 0
  while (offset < content.length) {
    line++
    const end = content.indexOf('\n', offset)
    const text = end === -1 ? content.slice(offset) : content.slice(offset, end)
    const next = end === -1 ? content.length : end + 1
    const record = end === -1 ? 'an unfinished last line' : decode(text)
    if (typeof record === 'string' || (record.kind !== 'w' && record.kind !== 'd' && record.kind !== 'h')) {
      const why = typeof record === 'string' ? record : `a ${record.kind} record`
      if (last && next >= content.length) {
        return { records, header, validBytes: Buffer.byteLength(content.slice(0, offset)), problem: `line ${line} is damaged (${why})` }
      }
      throw new DataDirError(
        `${path}: line ${line} is damaged (${why}), and records follow it: refusing to load a log with a hole. ` +
          'Restore the directory from a backup, or move the damaged file away to start from what is left.',
      )
    }
    if (record.kind === 'h') {
      if (record.format !== FORMAT) throw new DataDirError(`${path}: format ${record.format} is not one this server reads (${FORMAT})`)
      header = { instance: record.instance }
    } else {
      records.push(record)
    }
    offset = next
  }
  return { records, header, validBytes: Buffer.byteLength(content), problem: undefined }
}

interface Snapshot {
  instance: string
  lastSeq: number
  removedTop: number
  entries: TimedWrite[]
  /** The latest changes it covers, oldest first: for resuming streams, not for the state. */
  history: LogRecord[]
}

/** A snapshot file: written whole and renamed into place, so any damage is an error. */
function readSnapshot(path: string, content: string): Snapshot {
  const lines = content.split('\n')
  if (lines.pop() !== '') throw new DataDirError(`${path} is cut short`)
  const head = decode(lines[0] ?? '')
  if (typeof head === 'string' || head.kind !== 'h') throw new DataDirError(`${path}: no header (${String(head)})`)
  if (head.format !== FORMAT) throw new DataDirError(`${path}: format ${head.format} is not one this server reads (${FORMAT})`)
  const entries: TimedWrite[] = []
  const history: LogRecord[] = []
  for (let i = 1; i < lines.length - 1; i++) {
    const record = decode(lines[i]!)
    if (typeof record === 'string' || (record.kind !== 'w' && record.kind !== 'd')) {
      throw new DataDirError(`${path}: line ${i + 1} is damaged (${typeof record === 'string' ? record : record.kind})`)
    }
    // State first (seq 0), then history (seq > 0).
    if (record.kind === 'w' && record.seq === 0 && history.length === 0) {
      entries.push({ key: record.key, json: record.json, revision: record.revision, writtenAt: record.writtenAt })
    } else {
      history.push(record)
    }
  }
  const end = decode(lines.at(-1) ?? '')
  if (typeof end === 'string' || end.kind !== 'e' || end.count !== entries.length) {
    throw new DataDirError(`${path} is cut short or damaged at its end`)
  }
  return { instance: head.instance, lastSeq: head.lastSeq, removedTop: head.removedTop, entries, history }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch {
    // Some filesystems cannot sync a directory; the rename is then as durable as they make it.
  } finally {
    await handle.close()
  }
}
