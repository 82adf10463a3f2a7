// `@atomkv/server/vite`: the AtomKV service inside Vite's dev server and
// `vite preview`, under one base path, with a virtual module that hands the
// app its URL and a ready client. No second process, no port to configure.

import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClientOptions } from '@atomkv/client'
import { INSPECT_PATH } from '@atomkv/client/protocol'
import { loadEnv, type Plugin, type PreviewServer, type ResolvedConfig, type ViteDevServer } from 'vite'
import { type AtomKV, createAtomKV } from './app.js'
import { type FileStore, fileStore, type FsyncPolicy } from './file-store.js'
import { type CorsOrigins, checkOrigins } from './cors.js'
import type { AtomKVOptions } from './options.js'
import { migrateSnapshotFile, readSeed, type Seed } from './persist.js'

export type { Seed } from './persist.js'

export interface AtomKVPluginOptions extends AtomKVOptions {
  /** Where the service is mounted on the dev server. Default `/__atomkv`. */
  base?: string
  /** Values written at start: key → value, or a JSON file of that (relative to Vite's root). With `persist`, only keys the file lacks. */
  seed?: Seed
  /**
   * Keeps the store across restarts in a data directory (relative to Vite's
   * root; `true`: `.atomkv`), the same durable store as `atomkv --data`:
   * every write is on disk before it is answered, with its revision, so a
   * compare-and-swap after a restart is judged exactly as before it. Keys are
   * then kept until deleted unless `expireAfterMs` says otherwise. Add the
   * directory to `.gitignore`. A JSON file of the plugin's older `persist`
   * format at that path is moved into the directory once. Not with `store`.
   */
  persist?: string | true
  /** With `persist`: when a write is on disk before it is answered (see `atomkv --fsync`). Default `always`. */
  fsync?: FsyncPolicy
  /** With `persist`: the log is compacted into a snapshot past this many bytes. Default 64 MiB. */
  compactAfterBytes?: number
  /**
   * The service `virtual:atomkv` points the app at in `vite build`: an
   * absolute URL (`https://kv.example.com`, a standalone `atomkv`) or a path
   * on the page's own origin (`/kv`, behind the same proxy as the app).
   * Default: `ATOMKV_URL`, else `VITE_ATOMKV_URL`, from the environment or
   * Vite's `.env` files at build time; else the mounted base (`/__atomkv` of
   * the page's origin, which `vite preview` serves). The dev server always
   * uses its mounted service.
   */
  url?: string
  /** Options of the client `virtual:atomkv` exports, such as `{ shareAcrossTabs: true }`. Written into the module as JSON (a `token` function cannot be: make your own client for that). */
  client?: Omit<ClientOptions, 'url' | 'fetch' | 'token'> & { token?: string }
  /**
   * Browser origins that may call the dev store besides the app's own (the
   * dev server's URLs, `server.origin`, and any page this server served:
   * its `Origin` names the `Host` it asked, which Vite's `allowedHosts`
   * vets). Default: none. `'*'`: any origin, as the standalone server's
   * default. A request from another origin is refused with `403`, so a site
   * open in the same browser can neither read nor write the dev store.
   */
  corsOrigins?: CorsOrigins
  /**
   * Serves the inspector at `<base>/.inspect` (linked in the start line): a
   * page to browse, watch, edit and delete the dev store's keys. Default
   * true here (the standalone server's is false); it uses the API like any
   * client, so with `authorize` it has the rights of the token typed into it.
   */
  inspect?: boolean
}

export const DEFAULT_BASE = '/__atomkv'
/** Where `persist: true` keeps the data, relative to Vite's root. */
export const DEFAULT_PERSIST_DIR = '.atomkv'
const VIRTUAL_ID = 'virtual:atomkv'
const RESOLVED_ID = '\0virtual:atomkv'

/** A running service and what shuts it down with the server. */
interface Running {
  atomkv: AtomKV
  close(): Promise<void>
}

export function atomkv(options: AtomKVPluginOptions = {}): Plugin {
  const { base: rawBase = DEFAULT_BASE, url, seed, persist, fsync, compactAfterBytes, client = {}, corsOrigins, ...serviceOptions } =
    options
  checkOrigins(corsOrigins)
  if (url !== undefined) checkUrl(url, 'url')
  const base = '/' + rawBase.replace(/^\/+|\/+$/g, '')
  if (base === '/') throw new TypeError('atomkv: base must be a path below the root, such as /__atomkv')
  if (persist && serviceOptions.store) throw new TypeError('atomkv: persist cannot be used with a custom store')
  // An absolute origin for code that runs without `location` (server rendering).
  let origin = 'http://localhost'
  let running: Promise<Running> | undefined
  /** Vite's root: relative `seed` and `persist` paths are read from there. */
  let root = process.cwd()
  /** Where the built app finds the service (`url`, the environment, or `base`); the dev server always uses `base`. */
  let target: string | undefined
  let config: ResolvedConfig | undefined
  /** The dev server (or preview server) once mounted: its URLs are the app's own origins. */
  let mounted: ViteDevServer | PreviewServer | undefined
  const extra = corsOrigins === undefined || corsOrigins === '*' || typeof corsOrigins === 'function' ? undefined : new Set(corsOrigins)
  const allowed = (origin: string, host: string | null): boolean =>
    sameHost(origin, host) ||
    (extra?.has(origin) ?? false) ||
    (mounted !== undefined && ownOrigins(mounted).has(origin)) ||
    (typeof corsOrigins === 'function' && corsOrigins(origin, host))

  async function start(): Promise<Running> {
    let durable: FileStore | undefined
    if (persist) {
      const dir = resolve(root, persist === true ? DEFAULT_PERSIST_DIR : persist)
      const { maxKeys, expireAfterMs, logger } = serviceOptions
      await migrateSnapshotFile(dir)
      durable = await fileStore(dir, { fsync, compactAfterBytes, maxKeys, expireAfterMs, logger })
    }
    // The service owns the default store and closes it; a durable one is closed here, after the service.
    const service = createAtomKV({
      inspect: true,
      ...serviceOptions,
      ...(durable && { store: durable }),
      corsOrigins: corsOrigins === '*' ? '*' : allowed,
    })
    const { store } = service
    if (seed !== undefined) {
      const entries = await readSeed(typeof seed === 'string' ? resolve(root, seed) : seed)
      // A seed never overwrites a key the store already holds (restored from `persist`).
      for (const [key, json] of entries) if (!(await store.get(key))) await store.set(key, json)
    }
    return {
      atomkv: service,
      async close() {
        await service.close()
        await durable?.close()
      },
    }
  }

  /** Mounts the service on `server` and ties its life to the server's. */
  async function mount(server: ViteDevServer | PreviewServer): Promise<void> {
    running ??= start()
    const { atomkv: service } = await running
    // Registered now, not in a post hook: ahead of Vite's transforms, HTML fallback
    // and (in preview) compression, which would buffer an event stream. Connect
    // strips `base`, so the service sees `/key`.
    server.middlewares.use(base, service.nodeHandler)

    const close = server.close.bind(server)
    server.close = async () => {
      await shutdown()
      return close()
    }
    server.httpServer?.once('close', () => void shutdown())
    mounted = server
    server.httpServer?.once('listening', () => {
      const address = server.httpServer!.address() as AddressInfo
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      origin = `http://${host === '::' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`
      server.config.logger.info(`  ➜  AtomKV:  ${origin}${base}`)
      if (serviceOptions.inspect !== false) server.config.logger.info(`  ➜  AtomKV inspector:  ${origin}${base}${INSPECT_PATH}`)
    })
  }

  async function shutdown(): Promise<void> {
    const current = running
    running = undefined
    if (current) await (await current).close()
  }

  return {
    name: 'atomkv',
    config(user, { command }) {
      if (command !== 'serve') return undefined
      // The virtual module imports the client, which Vite's scan of the app's
      // sources cannot see: without this, the first page load finds it late,
      // re-optimizes and reloads the page. The adapters, when the app has them,
      // join it in one pre-bundle so they share one copy of the client.
      return { optimizeDeps: { include: optimizable(resolve(user.root ?? process.cwd())) } }
    },
    configResolved(resolved) {
      config = resolved
      root = resolved.root
      if (resolved.command === 'build') target = url ?? urlFromEnv(resolved) ?? base
    },
    configureServer: mount,
    configurePreviewServer: mount,
    async resolveId(id, importer) {
      if (id === VIRTUAL_ID) return RESOLVED_ID
      if (id === '@atomkv/client' && importer === RESOLVED_ID) {
        // The app's own copy when it has one (one client module for the whole app), else ours.
        const own = await this.resolve(id, undefined, { skipSelf: true })
        return own ?? this.resolve(id, fileURLToPath(import.meta.url), { skipSelf: true })
      }
      return undefined
    },
    load(id) {
      if (id !== RESOLVED_ID) return undefined
      if (target !== undefined && config) {
        const where = target === base ? `${base} of the page's origin (set the plugin's url, or ATOMKV_URL, to use another)` : target
        config.logger.info(`AtomKV: the app uses the service at ${where}`)
      }
      return [
        `import { createClient } from '@atomkv/client'`,
        `const here = typeof location === 'undefined' ? ${JSON.stringify(origin + '/')} : location.href`,
        `/** The service's absolute URL, such as http://localhost:5173${base}. */`,
        `export const url = new URL(${JSON.stringify(target ?? base)}, here).href.replace(/\\/+$/, '')`,
        `/** A client of the service, shared by the whole app. */`,
        `export const client = createClient({ ...${JSON.stringify(client)}, url })`,
      ].join('\n')
    },
  }
}

/** `ATOMKV_URL`, else `VITE_ATOMKV_URL`, from the environment or the `.env` files of the build's mode. */
function urlFromEnv(config: ResolvedConfig): string | undefined {
  // The process environment wins over the files, as for Vite's own variables.
  const env = loadEnv(config.mode, config.envDir, ['ATOMKV_URL', 'VITE_ATOMKV_URL'])
  for (const name of ['ATOMKV_URL', 'VITE_ATOMKV_URL']) {
    const value = env[name]
    if (value) return checkUrl(value, name)
  }
  return undefined
}

/** An absolute http(s) URL, or a path on the page's origin; anything else throws, naming where it came from. */
function checkUrl(url: string, source: string): string {
  if (url.startsWith('/') && !url.startsWith('//')) return url
  let protocol: string | undefined
  try {
    protocol = new URL(url).protocol
  } catch {
    // Not absolute: refused below.
  }
  if (protocol === 'http:' || protocol === 'https:') return url
  throw new TypeError(`atomkv: ${source} ${JSON.stringify(url)} must be an http(s) URL, such as https://kv.example.com, or a path such as /kv`)
}

/** Our packages the app can import, for `optimizeDeps.include`: each found in a node_modules above `root`. */
function optimizable(root: string): string[] {
  const has = (name: string) => {
    for (let dir = root; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'node_modules', name, 'package.json'))) return true
      if (dirname(dir) === dir) return false
    }
  }
  // Without its own copy, the app gets the client through this plugin's package.
  const include = [has('@atomkv/client') ? '@atomkv/client' : '@atomkv/server > @atomkv/client']
  for (const adapter of ['@atomkv/react', '@atomkv/svelte']) if (has(adapter)) include.push(adapter)
  return include
}

/** The URLs Vite resolved for the server (local and network) and `server.origin`, as origins. */
function ownOrigins(server: ViteDevServer | PreviewServer): Set<string> {
  const urls = [...(server.resolvedUrls?.local ?? []), ...(server.resolvedUrls?.network ?? [])]
  if (server.config.server.origin) urls.push(server.config.server.origin)
  const origins = new Set<string>()
  for (const url of urls) {
    try {
      origins.add(new URL(url).origin)
    } catch {
      // Not a URL: nothing to allow.
    }
  }
  return origins
}

/**
 * Whether `origin` is the one of a page this server served: a browser's
 * `Origin` names the host it asked, and that request's `Host` is this one.
 */
function sameHost(origin: string, host: string | null): boolean {
  if (!host) return false
  try {
    return new URL(origin).host === host.toLowerCase()
  } catch {
    return false
  }
}

export default atomkv
