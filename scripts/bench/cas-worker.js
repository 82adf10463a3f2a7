// Compare-and-swap loops in a process of their own: each loop reads a counter
// (GET) and writes it plus one with the next revision (PUT X-Revision), as a
// client's modify() does, for a fixed time. Every loop is bounded in time and
// in count. Messages (see workers.js):
//   { type: 'run', port, keys, loops, first, ms } → { type: 'done', committed, conflicts, puts }
// Any answer but 200 or 409 fails the run. Loop n (n from `first`) works on
// keys[n % keys.length], so loops of both workers meet on every key.

import http from 'node:http'
import { JSON_HEADERS, request } from './http.js'
import { serveRequests } from './ipc.js'

const MAX_ITERATIONS = 1_000_000
const PAD = 'x'.repeat(80) // ~100-byte bodies, like the other workloads

async function run({ port, keys, loops, first, ms }) {
  // Keep-alive, one socket per loop: the loops measure the server, not connection set-up.
  // noDelay: a request's head and body may leave in two writes, and Nagle would
  // hold the second until the server's delayed ACK of the first (tens of ms).
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops, noDelay: true })
  const end = Date.now() + ms
  const totals = { committed: 0, conflicts: 0, puts: 0 }
  await Promise.all(
    Array.from({ length: loops }, async (_, n) => {
      const key = keys[(first + n) % keys.length]
      for (let i = 0; i < MAX_ITERATIONS && Date.now() < end; i++) {
        const read = await request(port, 'GET', key, { agent })
        if (read.status !== 200) throw new Error(`GET ${key} answered ${read.status}: ${read.text}`)
        const { n: count } = JSON.parse(read.text)
        const revision = Number(read.headers['x-revision'])
        const write = await request(port, 'PUT', key, {
          agent,
          body: JSON.stringify({ n: count + 1, pad: PAD }),
          headers: { ...JSON_HEADERS, 'x-revision': String(revision + 1) },
        })
        totals.puts++
        if (write.status === 200) totals.committed++
        else if (write.status === 409) totals.conflicts++
        else throw new Error(`PUT ${key} answered ${write.status}: ${write.text}`)
      }
    }),
  )
  agent.destroy()
  return { type: 'done', ...totals }
}

serveRequests(async (message) => {
  if (message.type === 'run') return run(message)
  throw new Error(`unknown message ${message.type}`)
})
