#!/usr/bin/env node
// `pnpm check:packages`: what `pnpm publish` would upload, checked as a user
// would get it. Packs each package with pnpm (workspace:* replaced by
// versions), then on each tarball: publint (package.json against the files),
// arethetypeswrong (the types each entry point resolves to), our own rules
// (LICENSE, README, the sources the source maps name, React's 'use client'),
// and a consumer project that installs the tarballs and type-checks an import
// of every public entry with `skipLibCheck: false`. Runs offline: the
// dependencies are linked from this workspace, nothing is fetched.
// Needs `pnpm build` first.
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { consumerTsconfig } from './consumer-project.js'

const root = new URL('..', import.meta.url).pathname

/** Every public entry of every package, used the way an app would. */
const CONSUMER = `/// <reference types="@atomkv/server/client" />
import { createClient, type AtomKVClient } from '@atomkv/client'
import { isKey } from '@atomkv/client/protocol'
import { createAtomKV, tokenAuth, type AtomKV, type Authorize } from '@atomkv/server'
import { atomkv, type AtomKVPluginOptions } from '@atomkv/server/vite'
import { AtomKVProvider, useAtomKV } from '@atomkv/react'
import { atomkv as atomkvStore, setAtomKVClient } from '@atomkv/svelte'
import { client as virtualClient, url } from 'virtual:atomkv'

const kv: AtomKVClient = createClient({ url })
const valid: boolean = isKey('/a')
const authorize: Authorize = tokenAuth({ tokens: { 'long-enough-token': { read: ['/'] } } })
const service: AtomKV = createAtomKV({ authorize })
const options: AtomKVPluginOptions = { url: 'https://kv.example.com' }
const plugin = atomkv(options)
const Counter = () => {
  const { value } = useAtomKV<number>('/counter')
  return value
}
const element = AtomKVProvider({ client: kv, children: null })
setAtomKVClient(virtualClient)
const store = atomkvStore<number>('/counter')
export { valid, service, plugin, Counter, element, store }
`

const PACKAGES = ['client', 'server', 'react', 'svelte']
const ATTW = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js')
const work = mkdtempSync(join(tmpdir(), 'atomkv-packages-'))
const failures = []
const started = performance.now()
const step = (what) => process.env.CHECK_PACKAGES_TIMES && console.log(`${((performance.now() - started) / 1000).toFixed(1)}s ${what}`)
const fail = (pkg, message) => failures.push(`${pkg}: ${message}`)
const run = promisify(execFile)

try {
  // Packed side by side: each is mostly pnpm starting up.
  const tarballs = Object.fromEntries(
    await Promise.all(
      PACKAGES.map(async (pkg) => {
        const { stdout } = await run('pnpm', ['pack', '--pack-destination', work], { cwd: join(root, pkg) })
        const tarball = stdout.trim().split('\n').findLast((line) => line.endsWith('.tgz'))
        return [pkg, tarball.startsWith('/') ? tarball : join(work, tarball)]
      }),
    ),
  )
  step('packed')

  // arethetypeswrong: ESM-only packages, so CommonJS resolution is out of scope.
  // The client's `./browser` is the script for a <script> tag (a global), not a module to type.
  await Promise.all(
    PACKAGES.map(async (pkg) => {
      const exclude = pkg === 'client' ? ['--exclude-entrypoints', './browser'] : []
      const args = [ATTW, tarballs[pkg], '--profile', 'esm-only', ...exclude, '--format', 'ascii', '--no-emoji', '--no-color']
      await run(process.execPath, args, { cwd: root }).catch((error) => fail(pkg, `arethetypeswrong:\n${error.stdout}${error.stderr}`))
    }),
  )
  step('arethetypeswrong')

  for (const pkg of PACKAGES) {
    const tarball = tarballs[pkg]
    // publint: fields, exports and files against what is really in the tarball.
    const bytes = readFileSync(tarball)
    const { messages, pkg: manifest } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      level: 'suggestion',
      strict: true,
    })
    for (const message of messages) fail(pkg, `publint ${message.type}: ${formatMessage(message, manifest) ?? message.code}`)

    // Our own rules, on the unpacked files.
    const unpacked = join(work, 'unpacked', pkg)
    mkdirSync(unpacked, { recursive: true })
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'])
    checkContents(pkg, unpacked)
  }
  step('publint and contents')

  checkConsumerTypes(tarballs)
  step('consumer types')
} finally {
  if (!process.env.CHECK_PACKAGES_KEEP) rmSync(work, { recursive: true, force: true })
}

if (failures.length > 0) {
  for (const failure of failures) console.error(`FAIL ${failure}`)
  process.exit(1)
}
console.log(`packages ok: ${PACKAGES.map((pkg) => `@atomkv/${pkg}`).join(', ')}`)

/** LICENSE and README shipped, no tests, every source map's sources shipped, React's entry a client module. */
function checkContents(pkg, dir) {
  for (const file of ['LICENSE', 'README.md', 'package.json']) if (!existsSync(join(dir, file))) fail(pkg, `${file} is not in the tarball`)
  const files = walk(dir)
  if (files.some((file) => /(^|\/)test\/|\.test\.[jt]sx?$/.test(file))) fail(pkg, 'tests are in the tarball')
  for (const file of files.filter((name) => name.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(dir, file), 'utf8'))
    map.sources.forEach((source, index) => {
      const target = join(dir, dirname(file), source)
      if (!existsSync(target) && map.sourcesContent?.[index] == null) {
        fail(pkg, `${file} names ${source}, which is not in the tarball (go-to-definition would land nowhere)`)
      }
    })
  }
  if (pkg === 'react') {
    const entry = readFileSync(join(dir, 'dist/index.js'), 'utf8')
    if (!/^['"]use client['"]/.test(entry)) fail(pkg, "dist/index.js does not start with 'use client'")
  }
}

/**
 * A TypeScript project that depends on the tarballs and imports every public
 * entry, checked with skipLibCheck false: the types users get must compile,
 * together with the declarations of the dependencies they pull in.
 */
function checkConsumerTypes(tarballs) {
  const app = join(work, 'consumer')
  const modules = join(app, 'node_modules')
  mkdirSync(join(modules, '@atomkv'), { recursive: true })
  mkdirSync(join(modules, '@types'), { recursive: true })
  const linked = new Set()
  const link = (name, from) => {
    if (linked.has(name)) return
    const target = resolvePackage(name, from)
    if (!target) return
    linked.add(name)
    mkdirSync(dirname(join(modules, name)), { recursive: true })
    symlinkSync(target, join(modules, name), 'dir')
  }
  for (const pkg of PACKAGES) {
    const dir = join(modules, '@atomkv', pkg)
    mkdirSync(dir)
    execFileSync('tar', ['-xzf', tarballs[pkg], '-C', dir, '--strip-components=1'])
    // What an install would bring: dependencies and peers (as the workspace resolved them), and their @types.
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    for (const name of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
      if (name.startsWith('@atomkv/')) continue
      link(name, join(root, pkg))
      link(`@types/${name}`, join(root, pkg))
    }
  }
  link('@types/node', root)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  writeFileSync(join(app, 'tsconfig.json'), consumerTsconfig({ skipLibCheck: false }))
  writeFileSync(join(app, 'index.ts'), CONSUMER)
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { encoding: 'utf8' })
  if (tsc.status !== 0) fail('consumer', `tsc with skipLibCheck false:\n${(tsc.stdout + tsc.stderr).replaceAll(app + '/', '')}`)
}

/** Where the workspace installed `name` as seen from `from` (its real path), if it did. */
function resolvePackage(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate)
    if (dirname(dir) === dir || relative(root, dir).startsWith('..')) return undefined
  }
}

/** Every file under `dir`, relative to it. */
function walk(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
  )
}
