// Builds what the tests run as a separate process or serve as a file: the
// client (its browser build is served at GET /; the server's dist imports its
// ESM build) when missing, and the server's dist/ (the CLI test spawns
// dist/cli.js) when older than its sources.

import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

function build(pkg: string): void {
  try {
    execFileSync('pnpm', ['--filter', pkg, 'build'], { cwd: path('../..'), stdio: 'pipe' })
  } catch (error) {
    const output = (error as { stdout?: Buffer; stderr?: Buffer }).stdout?.toString() ?? ''
    console.warn(`server tests: building ${pkg} failed; tests that need it will fail.\n${output.slice(-2000)}`)
  }
}

function newest(dir: string): number {
  return Math.max(...readdirSync(dir).map((file) => statSync(`${dir}/${file}`).mtimeMs))
}

export default function setup(): void {
  if (!existsSync(path('../../client/dist/atomkv.iife.js')) || !existsSync(path('../../client/dist/index.js'))) {
    build('@atomkv/client')
  }
  const cli = path('../dist/cli.js')
  if (!existsSync(cli) || statSync(cli).mtimeMs < newest(path('../src'))) build('@atomkv/server')
}
