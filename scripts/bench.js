#!/usr/bin/env node
// `pnpm bench`: what fan-out costs, measured side by side in one run and given
// as ratios (these machines are shared and noisy; absolute numbers drift).
// All traffic stays on 127.0.0.1, bounded in count and time.
import { serve } from '../server/dist/index.js'
import { createClient } from '../client/dist/index.js'

const WRITES = Number(process.env.BENCH_WRITES ?? 2000)
const CONCURRENCY = 8
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100)

const server = await serve({ port: 0, hostname: '127.0.0.1', logger: false })
const kv = createClient({ url: server.url })

/** `WRITES` force-sets to `key` from CONCURRENCY loops; resolves to writes per second. */
async function writeRate(key) {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < WRITES) {
        next++
        await kv.set(key, { n: next, pad: 'x'.repeat(64) })
      }
    }),
  )
  return (WRITES / (performance.now() - started)) * 1000
}

/** Opens `count` raw SSE streams on `prefix`; each counts the frames it reads. */
async function openStreams(prefix, count) {
  const received = new Array(count).fill(0)
  const controllers = []
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const controller = new AbortController()
      controllers.push(controller)
      const res = await fetch(server.url + prefix, { headers: { accept: 'text/event-stream' }, signal: controller.signal })
      const reader = res.body.getReader()
      const decoder = new TextDecoder()
      ;(async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read()
            if (done) return
            received[i] += decoder.decode(value, { stream: true }).split('\ndata:').length - 1
          }
        } catch {}
      })()
    }),
  )
  return { received, close: () => controllers.forEach((c) => c.abort()) }
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20

// Alternate the two cases so drift on a shared machine hits both alike.
const alone = []
const fanned = []
const rssBefore = rssMiB()
const streams = await openStreams('/fan/', SUBSCRIBERS)
const rssStreams = rssMiB() - rssBefore
for (let round = 0; round < 3; round++) {
  alone.push(await writeRate('/solo/key'))
  fanned.push(await writeRate('/fan/key'))
}
const expected = 3 * WRITES
const deadline = Date.now() + 20_000
while (streams.received.some((n) => n < expected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
const complete = streams.received.filter((n) => n === expected).length
streams.close()

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const a = median(alone)
const f = median(fanned)
console.log(`writes, no subscriber:       ${a.toFixed(0)}/s (median of 3 rounds of ${WRITES})`)
console.log(`writes, ${SUBSCRIBERS} subscribers:     ${f.toFixed(0)}/s`)
console.log(`ratio (fan-out / alone):     ${(f / a).toFixed(2)}`)
console.log(`subscribers with every event: ${complete}/${SUBSCRIBERS}`)
console.log(`memory of ${SUBSCRIBERS} open streams (client and server, one process): ~${rssStreams.toFixed(1)} MiB`)
kv.close()
await server.close()
if (complete !== SUBSCRIBERS) process.exit(1)
