// contention: two clients each fire 100 concurrent `+1`s at one key of our
// server, until the counter holds exactly 200. "ours" is the client's
// modify() (coalesced per key, retrying from the value a 409 carries);
// "baseline" is the loop every app writes by hand: GET, PUT revision + 1,
// and on a 409 a jittered backoff and again. Same server, same backoff
// steps; what differs is the requests it takes and the time to settle.

import { fileURLToPath } from 'node:url'
import { startServer } from './servers.js'

const CLIENT = fileURLToPath(new URL('../../client/dist/index.js', import.meta.url))
const KEY = '/contention/counter'
/** The client's conflict backoff (client/src/modify.ts), for the hand-written loop too. */
const BACKOFF = { minDelayMs: 8, maxDelayMs: 250 }

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const jitter = (attempt) => Math.random() * Math.min(BACKOFF.maxDelayMs, BACKOFF.minDelayMs * 2 ** attempt)

/** A fetch that counts what it sends. */
function counted() {
  const counter = { requests: 0 }
  counter.fetch = (input, init) => {
    counter.requests++
    return fetch(input, init)
  }
  return counter
}

/** The hand-written compare-and-swap loop, once. */
async function naiveIncrement(base, fetch) {
  for (let attempt = 0; ; attempt++) {
    const read = await fetch(base + KEY)
    const revision = read.status === 404 ? -1 : Number(read.headers.get('x-revision'))
    const value = read.status === 404 ? 0 : await read.json()
    if (read.status === 404) await read.arrayBuffer()
    const write = await fetch(base + KEY, { method: 'PUT', body: String(value + 1), headers: { 'x-revision': String(revision + 1) } })
    await write.arrayBuffer()
    if (write.status === 200) return
    if (write.status !== 409) throw new Error(`PUT answered ${write.status}`)
    await sleep(jitter(attempt))
  }
}

/**
 * One run: a fresh server, two clients × `increments` concurrent `+1`s. `kind`
 * is `ours` (modify) or `baseline` (the hand-written loop).
 */
export async function contentionRun(kind, { contention: { clients, increments } }) {
  const server = await startServer('ours')
  try {
    const base = `http://127.0.0.1:${server.port}`
    const counters = Array.from({ length: clients }, counted)
    let run
    if (kind === 'ours') {
      const { createClient } = await import(CLIENT)
      const kvs = counters.map((counter) => createClient({ url: base, fetch: counter.fetch }))
      run = () =>
        Promise.all(kvs.flatMap((kv) => Array.from({ length: increments }, () => kv.modify(KEY, (n) => (n ?? 0) + 1, { maxAttempts: 1000 }))))
      try {
        const started = performance.now()
        await run()
        return await figures(base, counters, started, clients * increments)
      } finally {
        for (const kv of kvs) kv.close()
      }
    }
    const started = performance.now()
    await Promise.all(counters.flatMap((counter) => Array.from({ length: increments }, () => naiveIncrement(base, counter.fetch))))
    return await figures(base, counters, started, clients * increments)
  } finally {
    await server.stop()
  }
}

async function figures(base, counters, started, expected) {
  const seconds = (performance.now() - started) / 1000
  const requests = counters.reduce((sum, c) => sum + c.requests, 0)
  const final = await (await fetch(base + KEY)).json()
  return { requests, seconds, exact: final === expected, final }
}
