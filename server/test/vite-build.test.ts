// The Vite plugin in a production build: where `virtual:atomkv` points the
// built app (the `url` option, ATOMKV_URL / VITE_ATOMKV_URL, else the mounted
// base), and the dev server pre-bundling our packages so that the first page
// load does not re-optimize and reload.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, createServer, type ViteDevServer } from 'vite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { atomkv, type AtomKVPluginOptions } from '../src/vite.js'

let dir: string
const servers: ViteDevServer[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'atomkv-vite-build-'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/main.js"></script>')
  writeFileSync(join(dir, 'main.js'), "import { url, client } from 'virtual:atomkv'\nconsole.log(url, client)\n")
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
  rmSync(dir, { recursive: true, force: true })
})

/** A Vite logger that keeps what it is told in `lines`. */
const recorder = (lines: string[]) => ({
  info: (message: string) => void lines.push(message),
  warn: (message: string) => void lines.push(message),
  warnOnce: (message: string) => void lines.push(message),
  error: (message: string) => void lines.push(message),
  clearScreen() {},
  hasErrorLogged: () => false,
  hasWarned: false,
})

/** `vite build` of the little app with the plugin; resolves to the built JavaScript, and what the build logged. */
async function buildApp(options: AtomKVPluginOptions = {}, mode?: string): Promise<{ code: string; logged: string[] }> {
  const logged: string[] = []
  await build({
    configFile: false,
    root: dir,
    customLogger: recorder(logged),
    ...(mode && { mode }),
    plugins: [atomkv({ logger: false, ...options })],
    build: { outDir: join(dir, 'dist'), minify: false },
  })
  const assets = join(dir, 'dist', 'assets')
  const code = readdirSync(assets)
    .filter((file) => file.endsWith('.js'))
    .map((file) => readFileSync(join(assets, file), 'utf8'))
    .join('\n')
  return { code, logged }
}

/** Runs `fn` with `name` set in the environment, then puts it back. */
async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env[name]
  process.env[name] = value
  try {
    return await fn()
  } finally {
    if (before === undefined) delete process.env[name]
    else process.env[name] = before
  }
}

describe('the Vite plugin in vite build', () => {
  it('builds the url option into virtual:atomkv, and says so', async () => {
    const { code, logged } = await buildApp({ url: 'https://kv.example.com' })
    expect(code).toContain('"https://kv.example.com"')
    expect(code).not.toContain('"/__atomkv"')
    expect(code).toMatch(/createClient/) // the client itself is bundled, not left to a runtime import
    expect(logged.some((line) => line.includes('AtomKV: the app uses the service at https://kv.example.com'))).toBe(true)
  })

  it("takes a path on the page's own origin", async () => {
    const { code } = await buildApp({ url: '/kv' })
    expect(code).toContain('"/kv"')
  })

  it('takes ATOMKV_URL from the environment when the option is not given', async () => {
    const { code } = await withEnv('ATOMKV_URL', 'https://from-env.example.com:8443/kv', () => buildApp())
    expect(code).toContain('"https://from-env.example.com:8443/kv"')
    // The option wins over the environment.
    const explicit = await withEnv('ATOMKV_URL', 'https://from-env.example.com', () => buildApp({ url: 'https://option.example.com' }))
    expect(explicit.code).toContain('"https://option.example.com"')
    expect(explicit.code).not.toContain('from-env')
  })

  it("takes VITE_ATOMKV_URL from the mode's .env file", async () => {
    writeFileSync(join(dir, '.env.production'), 'VITE_ATOMKV_URL=https://prod.example.com\n')
    writeFileSync(join(dir, '.env.staging'), 'VITE_ATOMKV_URL=https://staging.example.com\n')
    expect((await buildApp()).code).toContain('"https://prod.example.com"')
    expect((await buildApp({}, 'staging')).code).toContain('"https://staging.example.com"')
  })

  it('keeps the mounted base when nothing names a URL', async () => {
    const { code, logged } = await buildApp({ base: '/api/kv' })
    expect(code).toContain('"/api/kv"')
    expect(logged.some((line) => line.includes("/api/kv of the page's origin"))).toBe(true)
  })

  it('refuses a URL that is neither http(s) nor a path, naming where it came from', async () => {
    expect(() => atomkv({ url: 'kv.example.com' })).toThrow(/url "kv.example.com" must be an http\(s\) URL/)
    expect(() => atomkv({ url: 'ws://kv.example.com' })).toThrow(/must be an http\(s\) URL/)
    await expect(withEnv('ATOMKV_URL', '//kv.example.com', () => buildApp())).rejects.toThrow(/ATOMKV_URL "\/\/kv.example.com"/)
  })
})

describe('the Vite plugin in vite dev', () => {
  it('pre-bundles the client with the app, so that the first page load finds nothing new to optimize', async () => {
    // The app as installed: its own node_modules holding our client.
    const modules = join(dir, 'node_modules', '@atomkv')
    mkdirSync(modules, { recursive: true })
    symlinkSync(fileURLToPath(new URL('../../client', import.meta.url)), join(modules, 'client'), 'dir')
    const logged: string[] = []
    const server = await createServer({
      configFile: false,
      root: dir,
      customLogger: recorder(logged),
      plugins: [atomkv({ logger: false, url: 'https://ignored-in-dev.example.com' })],
      server: { port: 0, host: '127.0.0.1', strictPort: true, ws: false, watch: null },
    })
    servers.push(server)
    await server.listen()
    expect(server.environments.client.config.optimizeDeps.include).toContain('@atomkv/client')
    const origin = server.resolvedUrls!.local[0]!.replace(/\/$/, '')

    // What the page loads: its module, the virtual one, and the client it imports.
    expect((await fetch(`${origin}/main.js`)).status).toBe(200)
    const code = await (await fetch(`${origin}/@id/__x00__virtual:atomkv`)).text()
    // Dev keeps the mounted service, whatever url says (that is for the build).
    expect(code).toContain('"/__atomkv"')
    expect(code).not.toContain('ignored-in-dev')
    // The client comes from the pre-bundle made at start...
    const dep = /from "(\/node_modules\/\.vite\/deps\/@atomkv_client\.js\?v=\w+)"/.exec(code)?.[1]
    expect(dep, code).toBeDefined()
    expect((await fetch(`${origin}${dep}`)).status).toBe(200)
    const optimizer = server.environments.client.depsOptimizer!
    await optimizer.scanProcessing
    expect(Object.keys(optimizer.metadata.optimized)).toContain('@atomkv/client')
    // ...not from a late discovery, which re-optimizes and reloads the page.
    expect(Object.keys(optimizer.metadata.discovered)).toEqual([])
    expect(logged.filter((line) => /optimized dependencies changed|new dependencies optimized/.test(line))).toEqual([])
  })
})
