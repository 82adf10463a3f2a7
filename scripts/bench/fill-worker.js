// Writes many distinct keys (force-set, POST) from a process of its own, over
// a few keep-alive connections, for the memory and prefix-snapshot workloads.
//   { type: 'fill', port, prefix, from, to, concurrency } → { type: 'filled', written }
// Keys are `${prefix}${i}` for i in [from, to); values are ~100 bytes of JSON.

import http from 'node:http'
import { JSON_HEADERS, request } from './http.js'
import { serveRequests } from './ipc.js'

const PAD = 'x'.repeat(72)

async function fill({ port, prefix, from, to, concurrency }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, noDelay: true })
  let next = from
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Bounded: each loop takes the next index until the range is used up.
      while (next < to) {
        const i = next++
        const path = `${prefix}${i}`
        const body = JSON.stringify({ i, name: `key ${i}`, pad: PAD })
        const { status, text } = await request(port, 'POST', path, { agent, body, headers: JSON_HEADERS })
        if (status !== 200) throw new Error(`POST ${path} answered ${status}: ${text}`)
      }
    }),
  )
  agent.destroy()
  return { type: 'filled', written: to - from }
}

serveRequests(async (message) => {
  if (message.type === 'fill') return fill(message)
  throw new Error(`unknown message ${message.type}`)
})
