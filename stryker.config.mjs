// StrykerJS: `pnpm mutate` plants one small bug (a mutant) at a time in the
// files below and runs the tests that reach it; a mutant no test notices is a
// gap in the tests (or an equivalent change, listed in MUTATION.md).
// Slow: not part of `pnpm test` or CI.
//
// One file or a few:  pnpm mutate --mutate server/src/fifo.ts
// More workers:       STRYKER_CONCURRENCY=2 pnpm mutate  (or --concurrency 2)

// The fuzz test's 100 sequences per mutant are most of a server mutant's
// time; a few dozen still reach what it checks.
process.env.FUZZ_RUNS ??= '25'

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'stryker.vitest.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'server/src/{memory-store,hub,subscriber,backlog,fifo,sse,sink,node-sink,app,routing,request,reply,body}.ts',
    'client/src/connection/*.ts',
    'client/src/modify.ts',
    'client/src/subscription.ts',
    'client/src/cache/*.ts',
  ],
  // Each mutant runs only the tests that reached its code in the first run.
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: one test process unless asked for more.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
  // A mutant in code that runs on import (a constant, a default) would need
  // every test re-run: too slow here; Stryker lists those as ignored.
  ignoreStatic: true,
  // Real servers and streams on a loaded machine: a mutant gets its tests'
  // time plus this much before it counts as a hang (detected).
  timeoutMS: 10_000,
  timeoutFactor: 1.5,
  // A re-run only tests mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  // event-recorder: one file per tested mutant as the run goes, so
  // `node scripts/mutation-survivors.js --live` lists survivors before the end.
  reporters: ['clear-text', 'json', 'progress-append-only', 'event-recorder'],
  eventReporter: { baseDir: 'reports/mutation/events' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['reports', 'e2e', 'demo', 'scripts/bench/results', '.ci-out'],
  thresholds: { high: 90, low: 85, break: null },
}
