#!/usr/bin/env node
// `pnpm check:readme`: every ```ts and ```tsx fragment of the READMEs,
// type-checked as a file of its own in a project that has our packages (as
// the demo has them: built, with React and Svelte) and Node's types. A
// fragment that cannot stand alone is marked with `<!-- no-check -->` on the
// line before its fence: keep that rare, and prefer a fragment that compiles.
// Needs `pnpm build` first.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { consumerTsconfig } from './consumer-project.js'

const root = new URL('..', import.meta.url).pathname
const READMES = ['README.md', 'client/README.md', 'server/README.md', 'react/README.md', 'svelte/README.md']
const dir = join(root, '.ci-out', 'readme-fragments')

/** The checked fragments of one Markdown file: language, first line (1-based) and code. */
function fragments(markdown) {
  const lines = markdown.split('\n')
  const found = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|tsx|typescript)\s*$/.exec(lines[i])
    if (!open) continue
    const indent = open[1].length
    const start = i + 1
    let end = start
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++
    let before = i - 1
    while (before >= 0 && lines[before].trim() === '') before--
    if (!(before >= 0 && /^<!-- no-check\b.*-->$/.test(lines[before].trim()))) {
      const code = lines.slice(start, end).map((line) => line.slice(indent)).join('\n')
      found.push({ lang: open[2] === 'tsx' ? 'tsx' : 'ts', line: start + 1, code })
    }
    i = end
  }
  return found
}

rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
// What the fragments import: the demo depends on every package (and React,
// Svelte), the server on h3, the root on Vite and Node's types.
for (const from of ['demo', 'server', '.']) {
  const modules = join(root, from, 'node_modules')
  for (const name of readdirSync(modules).filter((entry) => !entry.startsWith('.'))) {
    const names = name.startsWith('@') ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name]
    for (const pkg of names) {
      const link = join(dir, 'node_modules', pkg)
      if (existsSync(link)) continue
      mkdirSync(dirname(link), { recursive: true })
      symlinkSync(join(modules, pkg), link, 'dir')
    }
  }
}
writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
writeFileSync(join(dir, 'env.d.ts'), '/// <reference types="@atomkv/server/client" />\n')
writeFileSync(join(dir, 'tsconfig.json'), consumerTsconfig({ skipLibCheck: true, include: ['*.ts', '*.tsx'] }))

/** File name in the project → where the fragment is in the READMEs, for the error messages. */
const origins = new Map()
let count = 0
for (const readme of READMES) {
  for (const { lang, line, code } of fragments(readFileSync(join(root, readme), 'utf8'))) {
    const name = `${readme.replace(/\W+/g, '_')}_${line}.${lang}`
    origins.set(name, { readme, line })
    // Each fragment is a module of its own: its names never clash with another's.
    writeFileSync(join(dir, name), `${code}\nexport {}\n`)
    count++
  }
}

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir, '--pretty', 'false'], {
  encoding: 'utf8',
})
const output = (tsc.stdout + tsc.stderr).trim()
if (tsc.status !== 0) {
  // `X_123.ts(4,7): error ...` → `README.md:126: error ...` (the fragment's line 1 is the README's line 123).
  const located = output.replace(/^(?:\S*\/)?([^/\s]+?\.tsx?)\((\d+),(\d+)\)/gm, (match, file, line, column) => {
    const origin = origins.get(file)
    return origin ? `${origin.readme}:${origin.line + Number(line) - 1}:${column}` : match
  })
  console.error(located)
  console.error(`README fragments: tsc failed on ${count} fragments (project kept in ${dir})`)
  process.exit(1)
}
rmSync(dir, { recursive: true, force: true })
console.log(`README fragments ok: ${count} type-checked`)
