#!/usr/bin/env node
// Lists what a `pnpm mutate` run left: the score per file (the table of
// MUTATION.md) and every surviving or uncovered mutant with its line, so the
// gaps can be read while a long run is still going.
//
//   node scripts/mutation-survivors.js                 # the last finished run (reports/mutation/mutation.json)
//   node scripts/mutation-survivors.js --live          # the run going on now (reports/mutation/events/)
//   node scripts/mutation-survivors.js --file modify   # only files whose path contains "modify"
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const live = args.includes('--live')
const only = args.includes('--file') ? args[args.indexOf('--file') + 1] : undefined

/** @type {{ file: string, status: string, line: number, mutator: string, replacement?: string }[]} */
const mutants = []

if (live) {
  // The event-recorder reporter writes one file per tested mutant as the run goes.
  const dir = join(root, 'reports/mutation/events')
  if (!existsSync(dir)) fail(`no ${relative(root, dir)}: is a run going (pnpm mutate)?`)
  for (const name of readdirSync(dir).filter((n) => n.endsWith('-onMutantTested.json')).sort()) {
    const m = JSON.parse(readFileSync(join(dir, name), 'utf8'))
    mutants.push({
      file: relative(root, m.fileName),
      status: m.status,
      line: m.location.start.line,
      mutator: m.mutatorName,
      replacement: m.replacement,
    })
  }
} else {
  const report = join(root, 'reports/mutation/mutation.json')
  if (!existsSync(report)) fail(`no ${relative(root, report)}: run pnpm mutate first (or --live during a run)`)
  const { files } = JSON.parse(readFileSync(report, 'utf8'))
  for (const [file, { mutants: list }] of Object.entries(files)) {
    for (const m of list) {
      mutants.push({ file, status: m.status, line: m.location.start.line, mutator: m.mutatorName, replacement: m.replacement })
    }
  }
}

const byFile = new Map()
for (const m of mutants) {
  if (only && !m.file.includes(only)) continue
  if (!byFile.has(m.file)) byFile.set(m.file, [])
  byFile.get(m.file).push(m)
}

const count = (list, status) => list.filter((m) => m.status === status).length
console.log('| File | Score | Killed | Survived | Timeout | No coverage | Ignored |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const [file, list] of [...byFile].sort()) {
  const [killed, survived, timeout, none, ignored] = ['Killed', 'Survived', 'Timeout', 'NoCoverage', 'Ignored'].map(
    (s) => count(list, s),
  )
  const valid = killed + survived + timeout + none
  const score = valid === 0 ? '—' : `${((100 * (killed + timeout)) / valid).toFixed(1)}%`
  console.log(`| \`${file}\` | ${score} | ${killed} | ${survived} | ${timeout} | ${none} | ${ignored} |`)
}

for (const [file, list] of [...byFile].sort()) {
  const left = list.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').sort((a, b) => a.line - b.line)
  if (left.length === 0) continue
  console.log(`\n${file}`)
  const source = existsSync(join(root, file)) ? readFileSync(join(root, file), 'utf8').split('\n') : []
  for (const m of left) {
    const what = m.replacement === undefined ? '' : ` → ${oneLine(m.replacement)}`
    console.log(`  ${m.line}: ${m.status === 'NoCoverage' ? '(no coverage) ' : ''}${m.mutator}${what}`)
    console.log(`      ${oneLine(source[m.line - 1] ?? '')}`)
  }
}

function oneLine(text) {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat
}

function fail(message) {
  console.error(`mutation-survivors: ${message}`)
  process.exit(1)
}
