#!/usr/bin/env node
// What a snapshot costs MemoryStore.list on a big store: `node scripts/store-list.js`
// (after `pnpm --filter @atomkv/server build`). Not a test.
import { MemoryStore } from '../server/dist/memory-store.js'

const N = Number(process.env.KEYS ?? 100_000)
const store = new MemoryStore({ maxKeys: N + 100 })
for (let i = 0; i < N; i++) await store.set(`/bench/g${i % 1000}/k${i}`, JSON.stringify({ n: i }))
for (let i = 0; i < 10; i++) await store.set(`/p/k${i}`, JSON.stringify({ i }))

/** The median of 5 timed batches (after a warm-up): these machines are shared and noisy. */
async function time(label, subscriptions, runs) {
  let found = 0
  for (let i = 0; i < runs; i++) found = (await store.list(subscriptions)).length // warm up
  const batches = []
  for (let batch = 0; batch < 5; batch++) {
    const started = performance.now()
    for (let i = 0; i < runs; i++) await store.list(subscriptions)
    batches.push((performance.now() - started) / runs)
  }
  const each = batches.sort((a, b) => a - b)[2]
  const shown = each < 1 ? `${(each * 1000).toFixed(1)} µs` : `${each.toFixed(2)} ms`
  console.log(`${label.padEnd(44)} ${String(found).padStart(6)} keys  ${shown}`)
}

console.log(`${N} keys under /bench/ (1000 prefixes of ${N / 1000}), 10 under /p/`)
await time("list(['/p/'])", ['/p/'], 200)
await time("list(['/p/k3', '/p/k1'])  (keys only)", ['/p/k3', '/p/k1'], 2000)
await time("list(['/bench/g7/'])", ['/bench/g7/'], 200)
await time("list(['/p/', '/bench/g7/', '/p/k1'])", ['/p/', '/bench/g7/', '/p/k1'], 200)
await time("list(['/bench/'])  (the whole store)", ['/bench/'], 10)
store.close()
