// The request/response workloads: get and post (wrk), cas (node workers).

import { JSON_HEADERS, request } from './http.js'
import { wrk } from './load.js'
import { startWorker } from './workers.js'

const HOT_KEY = '/get/hot'
/** ~100 bytes of JSON. */
const HOT_VALUE = JSON.stringify({ name: 'the hot key', counter: 1, tags: ['a', 'b'], pad: 'x'.repeat(48) })

async function post(server, key, value) {
  const { status, text } = await request(server.port, 'POST', key, { body: value, headers: JSON_HEADERS })
  if (status !== 200) throw new Error(`${server.kind}: POST ${key} answered ${status}: ${text}`)
}

/** Writes the hot key once and checks it reads back, so every GET of the run is a 200 with the value. */
export async function seedGet(server) {
  await post(server, HOT_KEY, HOT_VALUE)
  const { status, text } = await request(server.port, 'GET', HOT_KEY)
  if (status !== 200 || text !== HOT_VALUE) throw new Error(`${server.kind}: GET ${HOT_KEY} answered ${status} ${text}`)
}

/** wrk errors other than timeouts mean wrong answers (status) or broken connections: the run does not count. */
function checkErrors(server, name, { errors }) {
  const { connect, read, write, status } = errors
  if (connect + read + write + status > 0) {
    throw new Error(`${server.kind} ${name}: wrk saw errors ${JSON.stringify(errors)}`)
  }
}

export async function getRun(server, { wrk: settings }) {
  const result = await wrk(server, { kind: 'get', path: HOT_KEY, ...settings })
  checkErrors(server, 'get', result)
  return result
}

export async function postRun(server, { wrk: settings, postKeys }) {
  const result = await wrk(server, { kind: 'post', keys: postKeys, ...settings })
  checkErrors(server, 'post', result)
  return result
}

/**
 * `loops` get-then-PUT increment loops on `keys` counters, spread over
 * `workers` processes, for `seconds`. Each counter starts at { n: 0 } with
 * revision 0 and every committed PUT adds one to both, so afterwards the
 * counters must sum to the committed updates and each n must equal its revision.
 */
export async function casRun(server, { cas: { loops, workers: count, keys: keyCount, seconds } }, round) {
  const keys = Array.from({ length: keyCount }, (_, k) => `/cas/r${round}/k${k}`)
  for (const key of keys) await post(server, key, JSON.stringify({ n: 0 }))
  const workers = []
  try {
    for (let w = 0; w < count; w++) workers.push(await startWorker('cas-worker.js'))
    const perWorker = loops / count
    const cpuBefore = server.cpu()
    const started = performance.now()
    const results = await Promise.all(
      workers.map((worker, w) =>
        worker.ask(
          { type: 'run', port: server.port, keys, loops: perWorker, first: w * perWorker, ms: seconds * 1000 },
          'done',
          seconds * 1000 + 30_000,
        ),
      ),
    )
    const elapsed = (performance.now() - started) / 1000
    const cpu = server.cpu() - cpuBefore
    const committed = results.reduce((sum, r) => sum + r.committed, 0)
    const conflicts = results.reduce((sum, r) => sum + r.conflicts, 0)
    const puts = results.reduce((sum, r) => sum + r.puts, 0)

    let sum = 0
    let revisionsMatch = true
    for (const key of keys) {
      const { status, headers, text } = await request(server.port, 'GET', key)
      if (status !== 200) throw new Error(`${server.kind}: GET ${key} answered ${status}`)
      const { n } = JSON.parse(text)
      sum += n
      if (Number(headers['x-revision']) !== n) revisionsMatch = false
    }
    return {
      updatesPerSec: committed / elapsed,
      conflictRatio: conflicts / puts,
      cpuPerUpdateUs: cpu / committed,
      committed,
      conflicts,
      puts,
      counterSum: sum,
      consistent: sum === committed && revisionsMatch,
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()))
  }
}
