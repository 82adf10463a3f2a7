// Times stream opens with initial state, from a process of its own: from
// connect() to the `ready` event, one open at a time.
//   { type: 'open', port, path, opens, warmup } → { type: 'opened', ms: [...], events: [...] }
// `events` counts the values each open sent before `ready` (the keys under
// the prefix), so a wrong snapshot cannot pass for a fast one. The first
// `warmup` opens are not timed: a fresh process compiles its code on them.

import { serveRequests } from './ipc.js'
import { openStream } from './sse-client.js'

const OPEN_TIMEOUT_MS = 30_000

function openOnce(port, path) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    let events = 0
    const timer = setTimeout(() => {
      socket.finish()
      reject(new Error(`${path}: no ready event within ${OPEN_TIMEOUT_MS} ms`))
    }, OPEN_TIMEOUT_MS)
    const socket = openStream({
      port,
      path,
      onEvent({ event }, at) {
        if (event !== 'ready') return void events++
        clearTimeout(timer)
        socket.finish()
        resolve({ ms: Number(at - started) / 1e6, events })
      },
      onError(error) {
        clearTimeout(timer)
        reject(error)
      },
    })
  })
}

serveRequests(async (message) => {
  if (message.type !== 'open') throw new Error(`unknown message ${message.type}`)
  const { port, path, opens, warmup } = message
  for (let n = 0; n < warmup; n++) await openOnce(port, path)
  const ms = []
  const events = []
  for (let n = 0; n < opens; n++) {
    const open = await openOnce(port, path)
    ms.push(open.ms)
    events.push(open.events)
  }
  return { type: 'opened', ms, events }
})
