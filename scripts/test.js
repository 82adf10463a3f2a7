#!/usr/bin/env node
// `pnpm test`: build, type-check (packages, then every README fragment), check
// the packed tarballs as a user would get them, build the example apps, unit tests
// (Vitest), then end-to-end tests (Playwright) when the e2e package has any. Ends with one line
// `N passed, M failed` summing both runners, and a non-zero exit on any failure.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const out = join(root, '.ci-out')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const run = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1

const steps = []
const step = (name, status) => {
  steps.push({ name, ok: status === 0 })
  return status === 0
}

// The example apps under demo/, by package name: their production builds
// (which the e2e tests start). Their typecheck scripts run with the others.
const examples = [
  '@atomkv/example-next',
  '@atomkv/example-sveltekit',
]

const readJSON = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined)

let passed = 0
let failed = 0
let skipped = 0
// Each failed test by file and name, repeated after the step list: CI logs are
// often read from the tail, where the runners' own reports have scrolled away.
const failures = []
const firstLine = (text) => String(text ?? '').split('\n').find((line) => line.trim()) ?? ''

if (step('build', run('pnpm', ['build']))) {
  step('typecheck', run('pnpm', ['typecheck']))
  step('README fragments', run('node', ['scripts/check-readme.js']))
  step('packages', run('node', ['scripts/check-packages.js']))
  step(
    'examples',
    run('pnpm', ['--workspace-concurrency=1', ...examples.flatMap((name) => ['--filter', name]), 'run', 'build']),
  )

  const vitestJSON = join(out, 'vitest.json')
  step(
    'unit tests',
    run('pnpm', ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJSON}`]),
  )
  const unit = readJSON(vitestJSON)
  if (unit) {
    passed += unit.numPassedTests
    failed += unit.numFailedTests
    skipped += unit.numPendingTests + unit.numTodoTests
    for (const file of unit.testResults) {
      for (const test of file.assertionResults) {
        if (test.status !== 'failed') continue
        failures.push(`${file.name.slice(root.length)} › ${test.fullName}: ${firstLine(test.failureMessages[0])}`)
      }
      // A file that fails to load has no tests to blame.
      if (file.status === 'failed' && file.assertionResults.length === 0) {
        failures.push(`${file.name.slice(root.length)}: ${firstLine(file.message)}`)
      }
    }
  }

  if (existsSync(join(root, 'e2e', 'playwright.config.ts'))) {
    const e2eJSON = join(out, 'e2e.json')
    step('e2e tests', run('pnpm', ['--filter', '@atomkv/e2e', 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJSON }))
    const e2e = readJSON(e2eJSON)
    if (e2e) {
      passed += e2e.stats.expected + e2e.stats.flaky
      failed += e2e.stats.unexpected
      skipped += e2e.stats.skipped
      const visit = (suite, titles) => {
        for (const spec of suite.specs ?? []) {
          for (const test of spec.tests) {
            if (test.status !== 'unexpected') continue
            const error = test.results.at(-1)?.error?.message
            failures.push(`e2e › ${[...titles, spec.title].join(' › ')}: ${firstLine(error)}`)
          }
        }
        for (const child of suite.suites ?? []) visit(child, [...titles, child.title])
      }
      for (const suite of e2e.suites) visit(suite, [suite.title])
    }
  }
}

console.log()
for (const { name, ok } of steps) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`)
for (const failure of failures) console.log(`  failed: ${failure}`)
const allOk = steps.every((s) => s.ok)
// A failed step with no failed test (a build or type error) still counts as one failure.
if (!allOk && failed === 0) failed = 1
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(allOk ? 0 : 1)
