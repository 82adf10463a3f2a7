// The fan-out workload: N raw-socket SSE subscribers on one key, spread over
// worker processes, then a paced series of writes from this process. For each
// write, the figure is the delay until the LAST subscriber has it.

import http from 'node:http'
import { JSON_HEADERS, request } from './http.js'
import { log, sleep, startServer } from './servers.js'
import { percentile } from './stats.js'
import { startWorker } from './workers.js'

const PAD = 'x'.repeat(56) // with i and t, ~100-byte values

/**
 * Writes `writes` values to `path`, `gapMs` apart: each starts at its slot, or
 * as soon as the previous write is answered if that took longer (a server busy
 * fanning out is not buried under a queue of writes, so a write's delay is its
 * own fan-out, not the backlog of earlier ones). Each value carries the
 * moment it was sent, process.hrtime.bigint(): CLOCK_MONOTONIC, comparable
 * with the subscribers' clocks in other processes on this machine.
 */
async function writeSeries(port, path, writes, gapMs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true })
  const start = performance.now()
  try {
    for (let i = 0; i < writes; i++) {
      const wait = start + i * gapMs - performance.now()
      if (wait > 0) await sleep(wait)
      const body = JSON.stringify({ i, t: String(process.hrtime.bigint()), pad: PAD })
      const { status, text } = await request(port, 'POST', path, { agent, body, headers: JSON_HEADERS })
      if (status !== 200) throw new Error(`POST ${path} answered ${status}: ${text}`)
    }
  } finally {
    agent.destroy()
  }
}

/** `total` split into `parts` near-equal shares. */
const shares = (total, parts) => Array.from({ length: parts }, (_, p) => Math.floor((total * (p + 1)) / parts) - Math.floor((total * p) / parts))

/**
 * One run on a fresh server of `kind`: a long-lived one would free garbage of
 * earlier workloads while the subscribers connect, and its RSS growth (even
 * negative) would say nothing about what a subscriber costs.
 */
export async function fanoutRun(kind, settings, round, subscribers) {
  const server = await startServer(kind)
  try {
    return await fanoutOn([server], settings, round, subscribers)
  } finally {
    await server.stop()
  }
}

/**
 * The fan-out on servers already started: the subscribers split over them
 * (worker w connects to server w mod n), the writes all made on the first,
 * so with several servers sharing a store the rest hear of them through it.
 * CPU and RSS are the servers' together.
 */
export async function fanoutOn(servers, { fanout: settings }, round, subscribers) {
  const { writes, gapMs, workers: workerCount, batch } = settings
  const path = `/fan/r${round}/n${subscribers}`
  const [writer] = servers
  const server = {
    kind: servers.map((s) => s.kind).join('+'),
    cpu: () => servers.reduce((total, s) => total + s.cpu(), 0),
    rss: () => servers.reduce((total, s) => total + s.rss(), 0),
    idle: async () => (await Promise.all(servers.map((s) => s.idle()))).every(Boolean),
  }
  const workers = []
  try {
    await server.idle()
    const rssBefore = server.rss()
    for (let w = 0; w < Math.max(servers.length, Math.min(workerCount, subscribers)); w++) workers.push(await startWorker('sse-worker.js'))
    // All workers at once, each in batches of its share of `batch`: at most `batch`
    // connections are ever waiting, so the server's accept queue (511 for node) never overflows.
    const perWorker = Math.max(1, Math.floor(batch / workers.length))
    const connect = async (count) => {
      const counts = shares(count, workers.length)
      await Promise.all(
        workers.map((worker, w) =>
          worker.ask({ type: 'connect', port: servers[w % servers.length].port, path, count: counts[w], batch: perWorker }, 'connected', 60_000),
        ),
      )
      if (!(await server.idle())) log(`${server.kind}: still busy after connecting subscribers`)
      return server.rss()
    }
    // A fifth first, then the rest. The first connections of a process also pay
    // once for compiled code and for V8 growing its young generation; the RSS
    // growth over the rest is what each further idle subscriber costs.
    const first = Math.max(1, Math.round(subscribers / 5))
    const connectStarted = performance.now()
    const rssFirst = await connect(first)
    const rssAfter = await connect(subscribers - first)
    const connectMs = performance.now() - connectStarted

    for (const worker of workers) await worker.ask({ type: 'expect', writes }, 'expecting', 5000)
    const cpuBefore = server.cpu()
    const writesStarted = performance.now()
    await writeSeries(writer.port, path, writes, gapMs)
    const writeSeconds = (performance.now() - writesStarted) / 1000
    // Every subscriber must get every write: wait (bounded) until each worker says all of its have.
    // A 'complete' sent while the writes were still going out waits in the worker's inbox.
    const completeWithin = 10_000 + subscribers
    const completions = workers.map((worker) => worker.next('complete', completeWithin).then(() => true, () => false))
    const completed = (await Promise.all(completions)).every(Boolean)
    const cpu = server.cpu() - cpuBefore

    const reports = await Promise.all(workers.map((worker) => worker.ask({ type: 'report' }, 'report', 10_000)))
    const sum = (field) => reports.reduce((total, report) => total + report[field], 0)
    const lost = sum('lost')
    // Per write: the largest delay over all workers; a write some subscriber never got has none.
    const delaysMs = Array.from({ length: writes }, (_, i) => {
      const arrived = reports.reduce((total, report) => total + report.arrivals[i], 0)
      if (arrived !== subscribers) return null
      return Math.max(...reports.map((report) => report.latestNs[i])) / 1e6
    }).filter((ms) => ms !== null)
    const errors = reports.flatMap((report) => report.errors)
    if (!completed) log(`${server.kind}: fan-out to ${subscribers} did not complete; lost ${lost}; ${errors.join('; ')}`)

    return {
      p50Ms: percentile(delaysMs, 50),
      p99Ms: percentile(delaysMs, 99),
      lost,
      rssPerSubscriberBytes: subscribers > first ? (rssAfter - rssFirst) / (subscribers - first) : NaN,
      rssPerSubscriberFromStartBytes: (rssAfter - rssBefore) / subscribers,
      cpuPerDeliveryUs: cpu / (writes * subscribers),
      connectMs,
      writeSeconds,
      subscribers: sum('subscribers'),
      writes,
      duplicates: sum('duplicates'),
      outOfOrder: sum('outOfOrder'),
      malformed: sum('malformed'),
      closedEarly: sum('closed'),
      errors: errors.slice(0, 5),
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()))
  }
}
