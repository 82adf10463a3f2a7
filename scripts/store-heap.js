#!/usr/bin/env node
// Live heap per key of MemoryStore: `node --expose-gc scripts/store-heap.js`
// (after `pnpm --filter @atomkv/server build`). Not a test: numbers vary with
// the Node version. Prints the store's own cost (key and JSON strings made
// beforehand) and the total with those strings.
import { MemoryStore } from '../server/dist/memory-store.js'

const N = Number(process.env.KEYS ?? 100_000)
/** Keys per prefix (PER_PREFIX=1 is the prefix index's worst case: one prefix per key). */
const PER_PREFIX = Number(process.env.PER_PREFIX ?? 100)
if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc')
  process.exit(1)
}
const heap = () => {
  global.gc()
  global.gc()
  return process.memoryUsage().heapUsed
}
// ~100 bytes of JSON each, keys spread over prefixes of PER_PREFIX keys. Keys
// are made flat, as a server reads them from a URL: a template literal makes a
// tree of string pieces that the store's first slice() would flatten, freeing
// memory counted before it (the store would seem to cost less).
const flat = (text) => Buffer.from(text, 'latin1').toString('latin1')
const makeKey = (i) => flat(`/bench/g${i % Math.ceil(N / PER_PREFIX)}/k${i}`)
const makeJson = (i) => JSON.stringify({ n: i, pad: 'x'.repeat(80 - String(i).length) })

async function measure(prebuilt) {
  const keys = prebuilt ? Array.from({ length: N }, (_, i) => makeKey(i)) : undefined
  const jsons = prebuilt ? Array.from({ length: N }, (_, i) => makeJson(i)) : undefined
  const before = heap()
  const store = new MemoryStore({ maxKeys: N + 1 })
  for (let i = 0; i < N; i++) await store.set(prebuilt ? keys[i] : makeKey(i), prebuilt ? jsons[i] : makeJson(i))
  const after = heap()
  const perKey = (after - before) / N
  store.close()
  return { perKey, keep: [store, keys, jsons] }
}

const own = await measure(true)
console.log(`store structures: ${own.perKey.toFixed(1)} bytes per key (key and JSON strings not counted)`)
own.keep.length = 0
const total = await measure(false)
console.log(`with strings:     ${total.perKey.toFixed(1)} bytes per key (${makeJson(12345).length}-byte JSON)`)
console.log(`(${N} keys, ${PER_PREFIX} per prefix, Node ${process.version})`)
