// The Redis store: many AtomKV processes share one Redis, and with it their
// state and their event streams.
//
// Every write is one Lua script (redis-scripts.ts) that applies the revision
// rules and appends the change to a Redis Stream, the feed, in the same atomic
// step. Each process reads the feed with blocking XREADs on a connection of
// its own and tells its listeners every change in feed order, so every process
// fans out the same changes in the same order, its own writes included: a
// write is answered only once this process's reader has told it, as the
// Store contract asks. Pub/sub or keyspace notifications would lose changes
// while a reader is away; a stream keeps them, and the reader picks up where
// it stopped.
//
// ioredis: a well-kept client (by Redis itself) with scripts called by SHA
// (`defineCommand` falls back to EVAL after a Redis restart emptied the script
// cache), blocking commands on a dedicated connection, and reconnection with
// backoff built in.

import { randomUUID } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { REMOVED } from '@atomkv/client/protocol'
import { DEFAULT_MAX_KEYS } from './memory-store.js'
import { type Logger, resolveLogger } from './options.js'
import { DELETE, GET, LIST, OPEN, SWEEP, WRITE } from './redis-scripts.js'
import {
  type Change,
  type ChangeListener,
  type DeleteResult,
  type Entry,
  type FeedInterruption,
  type Store,
  type StoreHistory,
  StoreReadError,
  StoreFullError,
  StoreWriteError,
  type Write,
  tellAll,
} from './store.js'

export interface RedisStoreOptions {
  /** Most keys held at once, over all instances (checked atomically); a write of a new key beyond it fails. Default 100 000. */
  maxKeys?: number
  /**
   * A key not written for this long is removed, with a removal event like a
   * `DELETE`. Default `0`: keys are kept until deleted. Give every instance
   * on one Redis the same value.
   */
  expireAfterMs?: number
  /** Names the store's Redis keys, which all begin `{<prefix>}:` (one hash tag: one Cluster slot). Default `atomkv`. */
  prefix?: string
  /** About how many changes the feed keeps (`XADD MAXLEN ~`). An instance that falls further behind than this resets its streams. Default 100 000. */
  feedLength?: number
  /** Default `console`; `false` logs nothing. */
  logger?: Logger | false
  /** More ioredis options (TLS, a password, timeouts, `retryStrategy`); the store sets the ones its guarantees need. */
  redis?: RedisOptions
}

export const DEFAULT_FEED_LENGTH = 100_000
/** The resume backlog's own defaults: a service starts with no more history than these. */
const HISTORY_MAX = 10_000
const HISTORY_MAX_BYTES = 16 * 1024 * 1024
/** How long a blocking read waits before asking again: a dead connection is noticed at the latest then. */
const BLOCK_MS = 5000
const READ_COUNT = 1000

/** A Redis the store cannot start on: unreachable, or refusing what the store needs. */
export class RedisStoreError extends Error {
  override name = 'RedisStoreError'
}

/** The scripts, as ioredis defines them: KEYS, then ARGV, flattened. */
interface Scripts {
  atomkvWrite(...args: string[]): Promise<[string, number, number]>
  atomkvDelete(...args: string[]): Promise<[string, number]>
  atomkvGet(...args: string[]): Promise<[string | null, number]>
  atomkvList(...args: string[]): Promise<[number, ...string[]]>
  atomkvSweep(...args: string[]): Promise<number>
  atomkvOpen(...args: string[]): Promise<[string, number, number, number, string | null]>
}

type Connection = Redis & Scripts

/** A change as the feed holds it. */
interface FeedEntry {
  readonly id: string
  readonly seq: number
  readonly change: Change
  /** Keys stored after it. */
  readonly count: number
  /** The highest revision of any key removed before it. */
  readonly priorTop: number
}

function parseEntry(id: string, fields: readonly string[]): FeedEntry {
  const f: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
  const key = f.k!
  const revision = Number(f.r)
  const change: Change =
    revision === REMOVED
      ? { key, json: 'null', revision, removedRevision: Number(f.x) }
      : { key, json: f.j!, revision, writtenAt: Number(f.t) }
  return { id, seq: Number(f.s), change, count: Number(f.n), priorTop: Number(f.p) }
}

/** `<revision> <seq> <writtenAt> <json>`, as the data hash holds an entry. */
function unpack(packed: string): { revision: number; seq: number; json: string } {
  const a = packed.indexOf(' ')
  const b = packed.indexOf(' ', a + 1)
  const c = packed.indexOf(' ', b + 1)
  return { revision: Number(packed.slice(0, a)), seq: Number(packed.slice(a + 1, b)), json: packed.slice(c + 1) }
}

/** The URL without credentials, for messages. */
export function describeRedis(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return 'the Redis URL given'
  }
}

/** Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS) and reads where its feed is. */
export async function redisStore(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const store = new RedisStore(url, options)
  try {
    await store.open()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

export class RedisStore implements Store {
  readonly maxKeys: number
  readonly expireAfterMs: number
  readonly feedLength: number
  /** Where, without credentials: for messages. */
  readonly where: string
  history: StoreHistory | undefined
  readonly #logger: Logger
  readonly #logError = (message: string, error: unknown) => this.#logger.error(message, error)
  readonly #command: Connection
  readonly #reader: Redis
  /** KEYS, then the ARGV every script starts with. */
  readonly #head: string[]
  readonly #base: string
  readonly #listeners = new Set<ChangeListener>()
  readonly #interruptions = new Set<(interruption: FeedInterruption) => void>()
  /** Where the reader is: the last feed entry told, and its seq. */
  #lastId = '0-0'
  #seq = 0
  #instance = ''
  #count = 0
  /** Writes and snapshots waiting for the reader to pass their seq, lowest first. */
  #waiters: { seq: number; resolve: () => void }[] = []
  /** Whether the reader has lost its connection since it last read. */
  #down = false
  /** What the connection last failed with ("connect ECONNREFUSED …"): says more than a command's own error. */
  #connectionError: string | undefined
  #reading: Promise<void> | undefined
  #sweeper: ReturnType<typeof setInterval> | undefined
  #closed = false

  constructor(url: string, options: RedisStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
    this.expireAfterMs = options.expireAfterMs ?? 0
    this.feedLength = options.feedLength ?? DEFAULT_FEED_LENGTH
    if (!(this.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${this.maxKeys}`)
    if (!(this.expireAfterMs >= 0)) throw new RangeError(`expireAfterMs must be 0 or more, got ${this.expireAfterMs}`)
    if (!(this.feedLength >= 1)) throw new RangeError(`feedLength must be at least 1, got ${this.feedLength}`)
    const prefix = options.prefix ?? 'atomkv'
    if (/[{}]/.test(prefix)) throw new RangeError(`prefix must not contain { or }, got ${JSON.stringify(prefix)}`)
    this.#logger = resolveLogger(options.logger)
    this.where = describeRedis(url)
    this.#base = `{${prefix}}`
    const keys = ['data', 'written', 'feed', 'seq', 'top'].map((name) => `${this.#base}:${name}`)
    this.#head = [...keys, this.#base, String(this.feedLength), String(this.expireAfterMs)]
    const settings: RedisOptions = {
      ...options.redis,
      // Two shapes of reply only (RESP2's): the scripts' and XREAD's.
      protocol: 2,
      lazyConnect: true,
      // While Redis is away a request fails at once (503), instead of waiting in a queue.
      enableOfflineQueue: false,
      // A command whose answer was lost with the connection is never sent again:
      // a write might then be applied twice. It fails, and its request with it.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
    }
    this.#command = new Redis(url, { ...settings, connectionName: 'atomkv' }) as Connection
    this.#reader = new Redis(url, { ...settings, connectionName: 'atomkv-feed' })
    const scripts = { atomkvWrite: WRITE, atomkvDelete: DELETE, atomkvGet: GET, atomkvList: LIST, atomkvSweep: SWEEP, atomkvOpen: OPEN }
    for (const [name, lua] of Object.entries(scripts)) this.#command.defineCommand(name, { lua, numberOfKeys: 5 })
    let reported = false
    const report = (error: Error) => {
      this.#connectionError = error.message
      // ioredis reports every failed reconnection: once per outage is enough.
      // Before open() is done, open() itself says what failed.
      if (reported || this.#closed || !this.history) return
      reported = true
      this.#logger.error(`atomkv: lost Redis at ${this.where} (${error.message}); reconnecting`)
    }
    this.#command.on('error', report)
    this.#reader.on('error', report)
    this.#command.on('ready', () => {
      this.#connectionError = undefined
      if (reported && !this.#closed) this.#logger.warn(`atomkv: Redis at ${this.where} is back`)
      reported = false
    })
  }

  /** Connects, names the history and reads its latest changes (the feed is read from there on). Called once, by {@link redisStore}. */
  async open(): Promise<void> {
    try {
      await Promise.all([this.#command.connect(), this.#reader.connect()])
    } catch (error) {
      throw new RedisStoreError(`cannot connect to Redis at ${this.where}: ${this.#connectionError ?? (error as Error).message}`)
    }
    let opened
    try {
      opened = await this.#command.atomkvOpen(...this.#head, randomUUID())
    } catch (error) {
      throw new RedisStoreError(`Redis at ${this.where} refused the store's scripts: ${(error as Error).message}`)
    }
    const [instance, seq, removedTop, count, newest] = opened
    this.#instance = instance
    this.#seq = seq
    this.#count = count
    this.#lastId = newest ?? '0-0'
    this.history = { instance, ...(await this.#readHistory(newest, removedTop)) }
    if (this.expireAfterMs > 0) {
      const every = Math.min(Math.max(this.expireAfterMs, 1000), 60_000)
      this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), every)
      this.#sweeper.unref?.()
    }
  }

  /** The latest changes, oldest first, up to the backlog's bounds, and the highest revision removed before them. */
  async #readHistory(newest: string | null, removedTop: number): Promise<{ changes: Change[]; removedTop: number }> {
    const entries: FeedEntry[] = []
    let bytes = 0
    let before = newest
    while (before !== null && entries.length < HISTORY_MAX && bytes < HISTORY_MAX_BYTES) {
      const count = Math.min(1000, HISTORY_MAX - entries.length)
      const start = entries.length === 0 ? before : `(${before}`
      const page = (await this.#command.call('XREVRANGE', this.#head[2]!, start, '-', 'COUNT', count)) as [string, string[]][]
      for (const [id, fields] of page) {
        const entry = parseEntry(id, fields)
        bytes += entry.change.key.length + entry.change.json.length + 24
        if (bytes > HISTORY_MAX_BYTES) break
        entries.push(entry)
      }
      before = page.length < count || bytes > HISTORY_MAX_BYTES ? null : page.at(-1)![0]
    }
    entries.reverse()
    return { changes: entries.map((entry) => entry.change), removedTop: entries[0]?.priorTop ?? removedTop }
  }

  get(key: string): Promise<Entry | undefined> {
    return this.#reads(async () => {
      if (this.expireAfterMs === 0) {
        const packed = (await this.#command.call('HGET', this.#head[0]!, key)) as string | null
        return packed === null ? undefined : entryOf(packed)
      }
      const [packed, removal] = await this.#command.atomkvGet(...this.#head, key)
      if (removal > 0) await this.#told(removal)
      return packed === null ? undefined : entryOf(packed)
    })
  }

  set(key: string, json: string): Promise<Entry> {
    return this.#write(key, json, '') as Promise<Entry>
  }

  update(key: string, json: string, revision: number): Promise<Entry | undefined> {
    return this.#write(key, json, String(revision))
  }

  async #write(key: string, json: string, expected: string): Promise<Entry | undefined> {
    const [status, seq, revision] = await this.#writing(key, () =>
      this.#command.atomkvWrite(...this.#head, key, json, expected, String(this.maxKeys)),
    )
    if (seq > 0) await this.#told(seq)
    if (status === 'full') throw new StoreFullError(this.maxKeys)
    return status === 'ok' ? { json, revision } : undefined
  }

  async delete(key: string, revision?: number): Promise<DeleteResult> {
    const expected = revision === undefined ? '' : String(revision)
    const [status, seq] = await this.#writing(key, () => this.#command.atomkvDelete(...this.#head, key, expected))
    if (seq > 0) await this.#told(seq)
    return status as DeleteResult
  }

  /**
   * The entries, read in one step with the seq of the last change committed
   * then; returned once the reader has told that change, so a stream never
   * gets a value in its snapshot before the same change arrives live.
   */
  list(subscriptions: readonly string[]): Promise<Write[]> {
    return this.#reads(async () => {
      const [seq, ...pairs] = await this.#command.atomkvList(...this.#head, ...subscriptions)
      const found: { key: string; revision: number; seq: number; json: string }[] = []
      for (let i = 0; i + 1 < pairs.length; i += 2) found.push({ key: pairs[i]!, ...unpack(pairs[i + 1]!) })
      found.sort((a, b) => a.seq - b.seq)
      await this.#told(seq)
      return found.map(({ key, json, revision }) => ({ key, json, revision }))
    })
  }

  /** Removes expired keys (their removals are told like deletes). Safe with several instances: each key goes once. */
  async sweep(): Promise<void> {
    if (this.expireAfterMs === 0 || this.#closed) return
    const seq = await this.#command.atomkvSweep(...this.#head, '1000')
    if (seq > 0) await this.#told(seq)
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    this.#startReading()
    return () => this.#listeners.delete(listener)
  }

  /**
   * The reader starts from where history ends, at the first subscriber (or
   * the first wait for it): changes made meanwhile by other servers wait in
   * the feed, none told to nobody, however long the caller took between
   * redisStore() and subscribing.
   */
  #startReading(): void {
    if (!this.#reading && !this.#closed && this.history) this.#reading = this.#read()
  }

  onInterruption(listener: (interruption: FeedInterruption) => void): () => void {
    this.#interruptions.add(listener)
    return () => this.#interruptions.delete(listener)
  }

  /** Keys stored, as of the last change this instance read. */
  size(): number {
    return this.#count
  }

  /** Whether both connections are up and the reader is reading. */
  available(): boolean {
    return !this.#closed && !this.#down && this.#command.status === 'ready' && this.#reader.status === 'ready'
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweeper)
    this.#reader.disconnect() // ends the blocking read at once
    await this.#reading?.catch(() => {})
    for (const waiter of this.#waiters.splice(0)) waiter.resolve()
    await this.#command.quit().catch(() => this.#command.disconnect())
    this.#listeners.clear()
    this.#interruptions.clear()
  }

  // --- requests -----------------------------------------------------------------

  async #writing<T>(key: string, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreWriteError('the store is closed')
    try {
      return await run()
    } catch (error) {
      throw new StoreWriteError(this.#problem(error, `writing ${key}`))
    }
  }

  async #reads<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreReadError('the store is closed')
    try {
      return await run()
    } catch (error) {
      throw new StoreReadError(this.#problem(error, 'reading'))
    }
  }

  #problem(error: unknown, doing: string): string {
    const message = error instanceof Error ? error.message : String(error)
    if (this.#command.status !== 'ready') return `Redis at ${this.where} is unreachable (${this.#connectionError ?? message})`
    return `Redis at ${this.where} failed ${doing}: ${message}`
  }

  // --- the feed -------------------------------------------------------------------

  /** Resolves once the reader has told the change numbered `seq` (at once if it has). */
  #told(seq: number): Promise<void> {
    if (seq <= this.#seq || this.#closed) return Promise.resolve()
    this.#startReading()
    return new Promise((resolve) => {
      let i = this.#waiters.length
      while (i > 0 && this.#waiters[i - 1]!.seq > seq) i--
      this.#waiters.splice(i, 0, { seq, resolve })
    })
  }

  #release(all = false): void {
    let n = 0
    while (n < this.#waiters.length && (all || this.#waiters[n]!.seq <= this.#seq)) this.#waiters[n++]!.resolve()
    if (n > 0) this.#waiters.splice(0, n)
  }

  async #read(): Promise<void> {
    const feed = this.#head[2]!
    while (!this.#closed) {
      let reply: [string, [string, string[]][]][] | null
      try {
        reply = (await this.#reader.call('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', feed, this.#lastId)) as typeof reply
      } catch (error) {
        if (this.#closed) return
        await this.#recover(error)
        continue
      }
      if (this.#down) this.#down = false
      if (!reply) continue
      for (const [id, fields] of reply[0]![1]) {
        const entry = parseEntry(id, fields)
        if (entry.seq !== this.#seq + 1) {
          // The feed was trimmed past this reader (it was away longer than
          // the feed is long), or Redis lost its data: changes were missed.
          this.#interrupt(`missed changes ${this.#seq + 1} to ${entry.seq - 1} of the Redis feed`, true)
        }
        this.#lastId = id
        this.#seq = entry.seq
        this.#count = entry.count
        this.#tell(entry.change)
      }
      this.#release()
    }
  }

  /** The reader lost Redis: streams end (clients resume), and the reader waits until Redis is back. */
  async #recover(error: unknown): Promise<void> {
    if (!this.#down) {
      this.#down = true
      const why = this.#reader.status === 'ready' ? (error instanceof Error ? error.message : String(error)) : this.#connectionError
      this.#interrupt(`lost the Redis feed at ${this.where} (${why ?? 'connection closed'})`, false)
    }
    // Until both connections are back and the feed is checked: a check that fails is tried again.
    while (!this.#closed) {
      for (const connection of [this.#reader, this.#command]) {
        while (!this.#closed && connection.status !== 'ready') await ready(connection)
      }
      if (this.#closed) return
      try {
        // A Redis that lost its data (restarted without persistence) starts a new history.
        const instance = (await this.#reader.call('GET', `${this.#base}:instance`)) as string | null
        if (instance !== this.#instance) {
          const [renamed] = await this.#command.atomkvOpen(...this.#head, randomUUID())
          this.#instance = renamed
          // The new feed is read from its start: its seqs start again at 1.
          this.#lastId = '0-0'
          this.#seq = 0
          this.#interrupt(`Redis at ${this.where} lost its data: a new history begins`, true)
        } else {
          // Changes trimmed from the feed while away are missed: said before new streams open here.
          const next = (await this.#reader.call('XRANGE', this.#head[2]!, `(${this.#lastId}`, '+', 'COUNT', 1)) as [string, string[]][]
          const seq = next[0] && parseEntry(next[0][0], next[0][1]).seq
          if (seq && seq !== this.#seq + 1) {
            this.#interrupt(`missed changes ${this.#seq + 1} to ${seq - 1} of the Redis feed while away`, true)
            this.#seq = seq - 1
          }
        }
        this.#down = false
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }

  #interrupt(reason: string, missed: boolean): void {
    if (missed) this.#release(true)
    if (this.#closed) return
    this.#logger.warn(`atomkv: ${reason}; ending streams (clients resume)`)
    tellAll(this.#interruptions, { reason, missed, instance: this.#instance } satisfies FeedInterruption, this.#logError)
  }

  #tell(change: Change): void {
    tellAll(this.#listeners, change, this.#logError)
  }
}

/** Resolves once `connection` is ready, has ended, or after a second (to look again). */
function ready(connection: Redis): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      connection.off('ready', done)
      connection.off('end', done)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(done, 1000)
    connection.once('ready', done)
    connection.once('end', done)
  })
}

function entryOf(packed: string): Entry {
  const { json, revision } = unpack(packed)
  return { json, revision }
}
