// The post-durable workload: the post load against our CLI in memory and with
// `--data` under each fsync policy, in the same run, so what durability costs
// is read as a ratio to the memory store on the same machine at the same time.
// Each run gets a fresh server (and with --data a fresh, empty directory,
// removed once the server has stopped), so no run inherits another's log,
// page cache or heap.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postRun } from './http-workloads.js'
import { startServer } from './servers.js'

/** The store each run uses: the memory store, which the others are measured against, then each policy. */
export const STORES = ['memory', 'always', 'interval', 'never']
export const REFERENCE = 'memory'

/** Where the data directories go: the system's temporary directory, on disk here (not tmpfs, or fsync would cost nothing). */
const parent = mkdtempSync(join(tmpdir(), 'atomkv-bench-data-'))
process.on('exit', () => rmSync(parent, { recursive: true, force: true }))

/** The records in the logs of `dir` (each log file starts with one header line). */
function logRecords(dir) {
  let records = 0
  for (const name of readdirSync(dir)) {
    if (!/^log\.\d+$/.test(name)) continue
    const text = readFileSync(join(dir, name), 'latin1')
    let lines = 0
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++
    records += lines - 1
  }
  return records
}

/**
 * One run of the post load on a fresh server with `store`: 'memory', or an
 * fsync policy. A durable run must have logged a record for every POST
 * answered (warm-up included) before its server stops and compacts.
 */
export async function durableRun(store, settings) {
  const dir = store === REFERENCE ? undefined : mkdtempSync(join(parent, `${store}-`))
  const label = dir ? `ours --fsync ${store}` : 'ours in memory'
  const server = await startServer('ours', { args: dir ? ['--data', dir, '--fsync', store] : [], label })
  try {
    let answered = 0
    // A short untimed run first, so the measured one does not pay for the JIT.
    if (settings.warmupSeconds > 0) {
      answered += (await postRun(server, { ...settings, wrk: { ...settings.wrk, seconds: settings.warmupSeconds } })).requests
    }
    const result = await postRun(server, settings)
    answered += result.requests
    if (dir) {
      const records = logRecords(dir)
      if (records < answered) throw new Error(`${label}: ${answered} POSTs answered but only ${records} records in the log`)
    }
    return result
  } finally {
    await server.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}
