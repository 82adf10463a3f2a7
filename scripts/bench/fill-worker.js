// Writes many distinct keys (force-set, POST) from a process of its own, for
// the memory and prefix-snapshot workloads.
//   { type: 'fill', port, prefix, from, to, connections } → { type: 'filled', written }
// Keys are `${prefix}${i}` for i in [from, to); values are ~100 bytes of JSON.
//
// Raw keep-alive sockets with pipelined requests (up to DEPTH in flight on
// each): a node:http client spends more CPU per request than the baseline
// server does, and 100 000 keys per server and round would make the bench
// slow for nothing. Only the stored keys are measured here, not the requests.

import net from 'node:net'
import { serveRequests } from './ipc.js'

const PAD = 'x'.repeat(72)
const DEPTH = 32
const HEAD_END = Buffer.from('\r\n\r\n')

function request(prefix, i) {
  const body = JSON.stringify({ i, name: `key ${i}`, pad: PAD })
  return `POST ${prefix}${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

/** One connection writing keys [from, to); every answer must be a 200 with a Content-Length (both servers send one). */
function fillOne(port, prefix, from, to) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setNoDelay(true)
    let next = from
    let answered = from
    let pending = Buffer.alloc(0)
    const fail = (error) => {
      socket.destroy()
      reject(error)
    }
    const send = () => {
      let out = ''
      while (next < to && next - answered < DEPTH) out += request(prefix, next++)
      if (out) socket.write(out)
    }
    socket.on('data', (data) => {
      pending = pending.length > 0 ? Buffer.concat([pending, data]) : data
      // Answers come back in request order; take each complete one.
      for (;;) {
        const end = pending.indexOf(HEAD_END)
        if (end === -1) break
        const head = pending.subarray(0, end).toString('latin1')
        const length = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1])
        if (!head.startsWith('HTTP/1.1 200 ')) return fail(new Error(`POST ${prefix}${answered}: ${head.split('\r\n')[0]}`))
        if (!Number.isInteger(length)) return fail(new Error(`POST ${prefix}${answered}: no Content-Length`))
        if (pending.length < end + 4 + length) break
        pending = pending.subarray(end + 4 + length)
        answered++
      }
      if (answered === to) {
        socket.destroy()
        resolve()
      } else send()
    })
    socket.on('error', fail)
    socket.on('close', () => answered < to && fail(new Error(`the connection closed after ${answered - from} of ${to - from} writes`)))
    send()
  })
}

async function fill({ port, prefix, from, to, connections }) {
  const bounds = Array.from({ length: connections + 1 }, (_, c) => from + Math.floor(((to - from) * c) / connections))
  await Promise.all(bounds.slice(0, -1).map((start, c) => fillOne(port, prefix, start, bounds[c + 1])))
  return { type: 'filled', written: to - from }
}

serveRequests(async (message) => {
  if (message.type === 'fill') return fill(message)
  throw new Error(`unknown message ${message.type}`)
})
