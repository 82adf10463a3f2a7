#!/usr/bin/env node
// `pnpm bench`: AtomKV against a bare node:http baseline, workload by
// workload, side by side. The machine is shared and noisy, so the two servers
// alternate (ours, baseline, ours, baseline…) over several rounds and every
// figure is a median, next to the median of the per-round ratios.
//
//   node scripts/bench/index.js [--only get,post,post-durable,cas,fanout,memory,prefix-snapshot,contention,redis]
//     [--rounds N] [--fanout 1000,5000] [--smoke] [--json] [--markdown FILE]
//
// Progress goes to stderr; the table (or with --json, the JSON) to stdout;
// raw figures to scripts/bench/results/latest.json. Exits non-zero when a
// run lost an event, broke consistency, or left a figure unmeasured.
//
// post-durable is the one workload without the baseline: it compares our
// memory store with our durable store under each fsync policy (durable.js).

import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { checkProtocol } from './check.js'
import { contentionRun } from './contention.js'
import { durableRun, REFERENCE, STORES } from './durable.js'
import { fanoutRun } from './fanout.js'
import { casRun, getRun, postRun, seedGet } from './http-workloads.js'
import { wrkVersion } from './load.js'
import { figuresOf, markdown, table } from './report.js'
import { fdLimit, log, startServer } from './servers.js'
import { median, ratio } from './stats.js'
import { storeRound } from './store-workloads.js'
import { redisRun } from './redis.js'

const WORKLOADS = ['get', 'post', 'post-durable', 'cas', 'fanout', 'memory', 'prefix-snapshot', 'contention', 'redis']
const KINDS = ['ours', 'baseline']

/** The full run: about 8 minutes on 2 cores. */
const FULL = {
  rounds: 3,
  wrk: { threads: 2, connections: 64, seconds: 5 },
  warmupSeconds: 1,
  postKeys: 1000,
  cas: { loops: 16, workers: 2, keys: 4, seconds: 5 },
  fanout: { sizes: [1000, 5000, 10000], writes: 50, gapMs: 20, workers: 4, batch: 400 },
  store: { keys: 100_000, opens: 20, warmup: 5 },
  contention: { clients: 2, increments: 100 },
  redis: { subscribers: 1000 },
}

/** Tiny sizes: proves every workload runs and reports, in well under a minute. Never a performance figure. */
const SMOKE = {
  rounds: 1,
  wrk: { threads: 2, connections: 4, seconds: 1 },
  warmupSeconds: 0,
  postKeys: 1000,
  cas: { loops: 16, workers: 2, keys: 4, seconds: 1 },
  fanout: { sizes: [20], writes: 5, gapMs: 20, workers: 2, batch: 200 },
  store: { keys: 2000, opens: 3, warmup: 1 },
  contention: { clients: 2, increments: 10 },
  redis: { subscribers: 20 },
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      rounds: { type: 'string' },
      fanout: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      markdown: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`Usage: node scripts/bench/index.js [options]
  --only LIST      workloads to run, of ${WORKLOADS.join(',')} (default: all)
  --rounds N       rounds of each workload, each running ours then the baseline, or for
                   post-durable each store (default 3; 1 with --smoke)
  --fanout LIST    subscriber counts for fanout (default 1000,5000,10000; 20 with --smoke)
  --smoke          tiny sizes: checks that everything runs and reports, in under a minute
  --json           print the results as JSON only (progress still goes to stderr)
  --markdown FILE  also write the results as Markdown to FILE (e.g. scripts/bench/RESULTS.md)
`)
    process.exit(0)
  }
  const settings = structuredClone(values.smoke ? SMOKE : FULL)
  const positive = (text, flag) => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} wants positive integers, not "${text}"`)
    return n
  }
  if (values.rounds !== undefined) settings.rounds = positive(values.rounds, '--rounds')
  if (values.fanout !== undefined) settings.fanout.sizes = values.fanout.split(',').map((n) => positive(n, '--fanout'))
  const only = values.only === undefined ? WORKLOADS : values.only.split(',').map((w) => w.trim())
  for (const workload of only) {
    if (!WORKLOADS.includes(workload)) throw new Error(`--only: no workload "${workload}" (${WORKLOADS.join(', ')})`)
  }
  return { settings, only: new Set(only), smoke: values.smoke, json: values.json, markdownFile: values.markdown }
}

/**
 * Runs `measure(kind, round)` for each kind (ours then the baseline, unless
 * told), round after round, and keeps every round's figures. With `rotate`,
 * each round starts one kind further on, so no kind always runs first or
 * last (in a warmer or busier machine).
 */
async function rounds(name, settings, measure, kinds = KINDS, { rotate = false } = {}) {
  const all = []
  for (let round = 1; round <= settings.rounds; round++) {
    const figures = {}
    const shift = rotate ? (round - 1) % kinds.length : 0
    for (const kind of [...kinds.slice(shift), ...kinds.slice(0, shift)]) {
      figures[kind] = await measure(kind, round)
      log(`${name} round ${round}/${settings.rounds} ${kind}: ${brief(name, figures[kind])}`)
    }
    all.push(figures)
  }
  return all
}

/** The per-field ratios of two runs' numeric figures. */
function ratiosOf(workload, figures, reference) {
  return Object.fromEntries(
    figuresOf(workload)
      .map(([field]) => field)
      .filter((f) => typeof figures[f] === 'number')
      .map((f) => [f, ratio(figures[f], reference[f])]),
  )
}

/** Field by field, the median over rounds (booleans: whether all hold). */
function medianOf(list) {
  const out = {}
  for (const field of Object.keys(list[0])) {
    const values = list.map((figures) => figures[field])
    if (values.every((v) => typeof v === 'boolean')) out[field] = values.every(Boolean)
    else if (values.every((v) => typeof v === 'number' || v === null)) out[field] = median(values)
  }
  return out
}

/** Like medianOf, for ratios: a round without a ratio (null) is left out. */
function medianRatios(list) {
  const out = {}
  for (const field of Object.keys(list[0])) {
    const values = list.map((r) => r[field]).filter((v) => v !== null)
    out[field] = values.length ? median(values) : null
  }
  return out
}

/** One workload's rounds with per-round ratios (ours / baseline), and the medians of everything. */
function summarize(workload, perRound) {
  const withRatios = perRound.map((r) => ({ ...r, ratio: ratiosOf(workload, r.ours, r.baseline) }))
  return {
    rounds: withRatios,
    median: {
      ours: medianOf(withRatios.map((r) => r.ours)),
      baseline: medianOf(withRatios.map((r) => r.baseline)),
      ratio: medianRatios(withRatios.map((r) => r.ratio)),
    },
  }
}

/**
 * Like summarize, for runs of several kinds against one of them: each round's
 * ratio holds, per other kind, its figures / the reference's.
 */
function summarizeAgainst(workload, perRound, kinds, reference) {
  const others = kinds.filter((kind) => kind !== reference)
  const withRatios = perRound.map((r) => ({
    ...r,
    ratio: Object.fromEntries(others.map((kind) => [kind, ratiosOf(workload, r[kind], r[reference])])),
  }))
  const median = Object.fromEntries(kinds.map((kind) => [kind, medianOf(withRatios.map((r) => r[kind]))]))
  median.ratio = Object.fromEntries(others.map((kind) => [kind, medianRatios(withRatios.map((r) => r.ratio[kind]))]))
  return { kinds, reference, rounds: withRatios, median }
}

/** A progress line's worth of a run's figures. */
function brief(name, figures) {
  if (name === 'store') return `${brief('memory', figures.memory)}; ${brief('prefix-snapshot', figures.snapshot)}`
  return figuresOf(name)
    .map(([field, label, decimals]) => {
      const value = figures[field]
      return `${label} ${typeof value === 'number' ? value.toFixed(decimals) : value}`
    })
    .join(', ')
}

/** What must hold for a run to count; an empty list when all is well. */
function problems(results) {
  const found = []
  for (const [workload, { rounds: perRound, kinds = KINDS }] of Object.entries(results.workloads)) {
    for (const [index, r] of perRound.entries()) {
      for (const kind of kinds) {
        const where = `${workload} round ${index + 1} ${kind}`
        for (const [field] of figuresOf(workload)) {
          const value = r[kind][field]
          if (typeof value !== 'boolean' && !Number.isFinite(value)) found.push(`${where}: ${field} is ${value}`)
        }
        if (workload === 'contention' && r[kind].exact !== true) {
          found.push(`${where}: the counter ended at ${r[kind].final}, not ${2 * results.meta.settings.contention.increments}`)
        }
        if (workload === 'cas' && r[kind].consistent !== true) {
          found.push(`${where}: counters sum to ${r[kind].counterSum}, committed ${r[kind].committed}`)
        }
        if (workload.startsWith('fanout') || workload.startsWith('redis')) {
          const { lost, duplicates, outOfOrder, malformed, subscribers, errors } = r[kind]
          if (lost !== 0 || duplicates !== 0 || outOfOrder !== 0 || malformed !== 0) {
            found.push(`${where}: lost ${lost}, duplicates ${duplicates}, out of order ${outOfOrder}, malformed ${malformed} (${errors.join('; ')})`)
          }
          const wanted = workload.startsWith('redis') ? results.meta.settings.redis.subscribers : Number(workload.split('-')[1])
          if (subscribers !== wanted) found.push(`${where}: ${subscribers} subscribers, not ${wanted}`)
        }
      }
    }
  }
  return found
}

async function main() {
  const { settings, only, smoke, json, markdownFile } = parseOptions()
  const started = Date.now()
  const wrk = only.has('get') || only.has('post') || only.has('post-durable') || only.has('redis') ? wrkVersion() : 'wrk not used'
  const meta = {
    command: ['node', 'scripts/bench/index.js', ...process.argv.slice(2)].join(' '),
    date: new Date().toISOString(),
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    wrk,
    fdLimit,
    loadavg: { start: os.loadavg()[0] },
    smoke,
    rounds: settings.rounds,
    workloads: WORKLOADS.filter((w) => only.has(w)),
    settings,
  }
  const results = { meta, workloads: {} }
  log(`${meta.cpu.cores} × ${meta.cpu.model}, Node ${meta.node}, ${wrk}; ${settings.rounds} round(s) of ${meta.workloads.join(', ')}`)

  // get, post and cas share one long-lived server of each kind; every run
  // starts by checking that both answer the protocol correctly.
  {
    const servers = {}
    try {
      for (const kind of KINDS) servers[kind] = await startServer(kind)
      for (const kind of KINDS) await checkProtocol(servers[kind])
      log(`both servers answer the protocol correctly (ours pid ${servers.ours.pid}, baseline pid ${servers.baseline.pid})`)

      for (const workload of ['get', 'post']) {
        if (!only.has(workload)) continue
        const run = workload === 'get' ? getRun : postRun
        for (const kind of KINDS) {
          if (workload === 'get') await seedGet(servers[kind])
          // A short untimed run first, so round 1 does not measure the JIT.
          if (settings.warmupSeconds > 0) {
            await run(servers[kind], { ...settings, wrk: { ...settings.wrk, seconds: settings.warmupSeconds } })
          }
        }
        const perRound = await rounds(workload, settings, (kind) => run(servers[kind], settings))
        results.workloads[workload] = summarize(workload, perRound)
      }
      if (only.has('cas')) {
        const perRound = await rounds('cas', settings, (kind, round) => casRun(servers[kind], settings, round))
        results.workloads.cas = summarize('cas', perRound)
      }
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()))
    }
  }

  // post-durable: a fresh server (and data directory) for every run (see durable.js).
  if (only.has('post-durable')) {
    const perRound = await rounds('post-durable', settings, (store) => durableRun(store, settings), STORES, { rotate: true })
    results.workloads['post-durable'] = summarizeAgainst('post-durable', perRound, STORES, REFERENCE)
  }

  // fanout: a fresh server of each kind for every run (see fanout.js).
  if (only.has('fanout')) {
    for (const subscribers of settings.fanout.sizes) {
      const name = `fanout-${subscribers}`
      // The server holds one descriptor per subscriber, plus a few of its own.
      if (subscribers + 100 > fdLimit) {
        log(`${name}: skipped, the open-file limit (${fdLimit}) is too low for ${subscribers} subscribers`)
        continue
      }
      const perRound = await rounds(name, settings, (kind, round) => fanoutRun(kind, settings, round, subscribers))
      results.workloads[name] = summarize('fanout', perRound)
    }
  }

  // memory and prefix-snapshot need a fresh server of each kind, every round.
  if (only.has('memory') || only.has('prefix-snapshot')) {
    const perRound = await rounds('store', settings, (kind) => storeRound(kind, settings))
    const split = (part) => perRound.map((r) => ({ ours: r.ours[part], baseline: r.baseline[part] }))
    if (only.has('memory')) results.workloads.memory = summarize('memory', split('memory'))
    if (only.has('prefix-snapshot')) results.workloads['prefix-snapshot'] = summarize('prefix-snapshot', split('snapshot'))
  }

  // contention: ours is the client's modify(), the baseline a hand-written loop; both on our server.
  if (only.has('contention')) {
    const perRound = await rounds('contention', settings, (kind) => contentionRun(kind, settings))
    results.workloads.contention = summarize('contention', perRound)
  }

  // redis: one and two servers on one Redis, each against a server on the memory store (see redis.js).
  if (only.has('redis')) {
    for (const instances of [1, 2]) {
      const name = `redis-${instances}`
      const perRound = await rounds(name, settings, (kind, round) => redisRun(kind, settings, round, instances))
      results.workloads[name] = summarize(name, perRound)
    }
  }

  meta.seconds = Math.round((Date.now() - started) / 1000)
  meta.loadavg.end = os.loadavg()[0]
  const here = dirname(new URL(import.meta.url).pathname)
  const file = resolve(here, 'results', smoke ? 'latest-smoke.json' : 'latest.json')
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  if (markdownFile) writeFileSync(resolve(markdownFile), markdown(results))
  if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
  else process.stdout.write(table(results) + '\n')
  log(`done in ${meta.seconds} s; raw figures in ${file}`)

  const found = problems(results)
  const missing = meta.workloads.filter((w) => w !== 'fanout' && w !== 'redis' && !results.workloads[w])
  if (only.has('redis') && !results.workloads['redis-2']) missing.push('redis')
  if (only.has('fanout') && !Object.keys(results.workloads).some((w) => w.startsWith('fanout'))) missing.push('fanout')
  for (const w of missing) found.push(`${w}: not measured`)
  if (found.length > 0) {
    log(`FAILED:\n  ${found.join('\n  ')}`)
    process.exitCode = 1
  }
}

main().then(
  // Every child has been stopped by now; exit even if a stray timer or socket lingers.
  () => process.exit(),
  (error) => {
    log(`FAILED: ${error?.stack ?? error}`)
    process.exit(1)
  },
)
