// The `atomkv` command line, parsed without side effects so it can be tested.

import { parseArgs } from 'node:util'
import { FSYNC_POLICIES, type FsyncPolicy } from './file-store.js'
import { originProblem } from './cors.js'
import type { ServeOptions } from './serve.js'
import { readTokenFile, tokenAuth, type TokenFile } from './tokens.js'

export const USAGE = `Usage: atomkv [options]

Serves AtomKV: a realtime JSON key-value service with compare-and-swap and
Server-Sent Events. GET / serves the browser client.

Options:
  --addr [host]:port              where to listen; ":8000" is every interface
                                  (default: $ATOMKV_ADDR, else :8000; "-addr" works too)
  --max-value-bytes <size>        largest value; larger writes get 413 (default 1MiB)
  --max-key-length <n>            longest key or prefix; longer gets 400 (default
                                  and most 1024)
  --max-depth <n>                 deepest nesting of arrays and objects in a value;
                                  deeper gets 400 (default 512)
  --max-keys <n>                  most keys; a new key beyond gets 507 (default 100000)
  --data <dir>                    keep the data in this directory (created if
                                  missing; default: in memory only, lost at exit)
  --fsync always|interval|never   with --data, when a write is on disk before
                                  it is answered: always (default; a crash
                                  loses nothing answered), interval (synced
                                  every second), never (when the OS likes)
  --redis <url>                   keep the data in Redis (redis://host:6379, with
                                  user:password@ or rediss:// for TLS if needed),
                                  shared with every server on the same Redis:
                                  run several behind a load balancer
  --expire-after <duration>       drop keys not written for this long; 0 keeps them
                                  forever (default 7d in memory, 0 with --data
                                  or --redis)
  --heartbeat <duration>          comment sent on idle streams this often; 0 sends
                                  none (default 15s)
  --max-queue <size>              a stream holding more unsent bytes is cut off
                                  and resumes (default 8MiB)
  --backlog-events <n>            events kept for resuming streams (default 10000)
  --backlog-bytes <size>          bytes kept for resuming streams (default 16MiB)
  --max-subscriptions <n>         most keys and prefixes on one stream (default 1000)
  --max-streams <n>               most open streams (default 10000)
  --max-connections <n>           most open connections (default 20000)
  --headers-timeout <duration>    408 to a client slower to send a request's
                                  headers (default 10s)
  --request-timeout <duration>    408 to a client slower to send a whole
                                  request (default 60s)
  --retiring-grace <duration>     a stream replaced by a newer one of its session
                                  is dropped if not read by then (default 5s)
  --max-streams-per-client <n>    most open streams from one address; 0 for no
                                  limit (default 500)
  --max-total-subscriptions <n>   most keys and prefixes over all streams
                                  (default 1000000)
  --log-requests                  one JSON line per request on stdout (path and
                                  status, never the query: no token)
  --auth <file>                   tokens and their rights, JSON:
                                  {"tokens": {"<token>": {"read": ["/room/"],
                                  "write": ["/room/"]}}}; requests then need
                                  Authorization: Bearer <token> (or ?token=)
  --inspect                       serve the inspector at /.inspect: a page to
                                  browse, watch and edit keys (it acts with
                                  the rights of the token typed into it)
  --cors-origin <origin>          browser origins allowed to call, such as
                                  https://app.example.com; repeat it or separate
                                  with commas (default: any origin, "*")
  -h, --help                      show this help

Every option may be set in the environment instead: --max-keys is
ATOMKV_MAX_KEYS (a flag wins; ATOMKV_LOG_REQUESTS=1 turns logs on,
ATOMKV_INSPECT=1 the inspector;
ATOMKV_CORS_ORIGIN takes a comma-separated list).
Sizes are bytes, or with a unit: 64KiB, 1MiB (k, m and g count 1024s).
Durations are seconds, or with a unit: 500ms, 30s, 10m, 12h, 7d.
`

export class CliError extends Error {
  override name = 'CliError'
}

export interface ServeCommand {
  command: 'serve'
  /** `undefined`: every interface. */
  hostname: string | undefined
  port: number
  options: Omit<ServeOptions, 'port' | 'hostname'>
}

export type CliCommand = { command: 'help' } | ServeCommand

const flags = {
  addr: { type: 'string' },
  'max-value-bytes': { type: 'string' },
  'max-keys': { type: 'string' },
  'max-depth': { type: 'string' },
  'max-key-length': { type: 'string' },
  'expire-after': { type: 'string' },
  data: { type: 'string' },
  fsync: { type: 'string' },
  redis: { type: 'string' },
  heartbeat: { type: 'string' },
  'max-queue': { type: 'string' },
  'backlog-events': { type: 'string' },
  'backlog-bytes': { type: 'string' },
  'max-subscriptions': { type: 'string' },
  'max-streams': { type: 'string' },
  'max-connections': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-total-subscriptions': { type: 'string' },
  'max-streams-per-client': { type: 'string' },
  'retiring-grace': { type: 'string' },
  'log-requests': { type: 'boolean' },
  inspect: { type: 'boolean' },
  auth: { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const

/** The environment variable that stands for a flag: `max-keys` → `ATOMKV_MAX_KEYS`. */
export function envName(flag: string): string {
  return `ATOMKV_${flag.toUpperCase().replace(/-/g, '_')}`
}

/** Parses arguments (without `node` and the script) and the environment; throws {@link CliError} on bad input. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): CliCommand {
  // Go-style single-dash long flags, as the original took them: -addr :8000, -addr=:8000.
  const args = argv.map((arg) => (/^-[a-z][a-z-]+(=|$)/.test(arg) ? `-${arg}` : arg))
  const values = parseFlags(args)
  if (values.help) return { command: 'help' }

  const { hostname, port } = parseAddr(values.addr ?? env.ATOMKV_ADDR ?? ':8000')
  const options: Omit<ServeOptions, 'port' | 'hostname'> = {}
  type Flag = keyof typeof flags
  // Every flag may come from the environment instead: --max-keys is ATOMKV_MAX_KEYS. A flag wins.
  const read = <T>(flag: Flag, parse: (flag: string, value: string) => T) => {
    const value = values[flag] ?? env[envName(flag)]
    return value === undefined ? undefined : parse(flag, String(value))
  }
  const size = (flag: Flag) => read(flag, parseSize)
  const count = (flag: Flag) => read(flag, parseCount)
  const duration = (flag: Flag) => read(flag, parseDuration)

  options.maxValueBytes = size('max-value-bytes')
  options.maxKeys = count('max-keys')
  options.maxDepth = count('max-depth')
  options.maxKeyLength = count('max-key-length')
  options.expireAfterMs = duration('expire-after')
  options.data = read('data', (_flag, value) => {
    if (value === '') throw new CliError('--data needs a directory')
    return value
  })
  options.fsync = read('fsync', (flag, value) => {
    if (!(FSYNC_POLICIES as readonly string[]).includes(value)) {
      throw new CliError(`--${flag} must be one of ${FSYNC_POLICIES.join(', ')}, got ${JSON.stringify(value)}`)
    }
    return value as FsyncPolicy
  })
  if (options.fsync !== undefined && options.data === undefined) throw new CliError('--fsync needs --data')
  options.redis = read('redis', (_flag, value) => {
    if (!/^rediss?:\/\/./.test(value)) throw new CliError(`--redis ${JSON.stringify(value)}: expected a URL such as redis://127.0.0.1:6379`)
    return value
  })
  if (options.redis !== undefined && options.data !== undefined) throw new CliError('--redis and --data cannot be used together')
  options.heartbeatMs = duration('heartbeat')
  options.maxQueueBytes = size('max-queue')
  const backlog = { maxEvents: count('backlog-events'), maxBytes: size('backlog-bytes') }
  if (backlog.maxEvents !== undefined || backlog.maxBytes !== undefined) options.backlog = backlog
  options.maxSubscriptionsPerStream = count('max-subscriptions')
  options.maxStreams = count('max-streams')
  const on = (flag: 'log-requests' | 'inspect') => values[flag] ?? ['1', 'true', 'yes'].includes(env[envName(flag)] ?? '')
  const logRequests = on('log-requests')
  if (logRequests) options.requestLog = (entry) => process.stdout.write(JSON.stringify(entry) + '\n')
  options.maxConnections = count('max-connections')
  options.headersTimeoutMs = duration('headers-timeout')
  options.requestTimeoutMs = duration('request-timeout')
  options.maxTotalSubscriptions = count('max-total-subscriptions')
  options.maxStreamsPerClient = count('max-streams-per-client')
  options.retiringGraceMs = duration('retiring-grace')
  if (on('inspect')) options.inspect = true
  const auth = values.auth ?? env[envName('auth')]
  if (auth !== undefined) options.authorize = tokenAuth(readTokens(auth))
  const origins = values['cors-origin'] ?? (env[envName('cors-origin')] === undefined ? undefined : [env[envName('cors-origin')]!])
  if (origins !== undefined) options.corsOrigins = parseOrigins(origins)
  return { command: 'serve', hostname, port, options }
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({ args, options: flags, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error))
  }
}

/** The `--auth` file, checked now: a bad one stops the start with a message naming the file and entry. */
function readTokens(file: string): TokenFile {
  try {
    return readTokenFile(file)
  } catch (error) {
    throw new CliError(`--auth ${(error as Error).message}`)
  }
}

/** `--cors-origin`, repeated or comma-separated: `*`, or origins. */
export function parseOrigins(values: readonly string[]): '*' | string[] {
  const origins = values.flatMap((value) => value.split(',')).map((origin) => origin.trim()).filter(Boolean)
  if (origins.includes('*')) {
    if (origins.length > 1) throw new CliError('--cors-origin "*" means any origin: give it alone')
    return '*'
  }
  if (origins.length === 0) throw new CliError('--cors-origin: expected an origin such as https://app.example.com')
  for (const origin of origins) {
    const problem = originProblem(origin)
    if (problem) throw new CliError(`--cors-origin ${JSON.stringify(origin)} ${problem}`)
  }
  return origins
}

/** `:8000` (every interface), `host:8000`, `[::1]:8000`, or a bare port. */
export function parseAddr(addr: string): { hostname: string | undefined; port: number } {
  const match = /^(?:(\[[^\]]*\]|[^:]*):)?(\d+)$/.exec(addr.trim())
  const port = Number(match?.[2])
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new CliError(`--addr ${JSON.stringify(addr)}: expected [host]:port, such as :8000 or 127.0.0.1:8000`)
  }
  const host = match[1]?.replace(/^\[(.*)\]$/, '$1')
  return { hostname: host || undefined, port }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

export function parseSize(flag: string, value: string): number {
  const match = /^(\d+)\s*(?:([kmg]?)(?:i?b)?)$/i.exec(value.trim())
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? '']
  if (!match || unit === undefined) {
    throw new CliError(`--${flag} ${JSON.stringify(value)}: expected a size such as 65536 or 64KiB`)
  }
  return Number(match[1]) * unit
}

export function parseCount(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new CliError(`--${flag} ${JSON.stringify(value)}: expected a whole number`)
  return Number(value)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(value.trim())
  const unit = DURATION_UNITS[match?.[2]?.toLowerCase() ?? '']
  if (!match || unit === undefined) {
    throw new CliError(`--${flag} ${JSON.stringify(value)}: expected a duration such as 30s, 10m or 7d`)
  }
  return Math.round(Number(match[1]) * unit)
}
