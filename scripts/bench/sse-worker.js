// A process holding a share of the fan-out subscribers, on raw sockets.
// Each write carries the writer's process.hrtime.bigint() (CLOCK_MONOTONIC,
// one clock for every process on the machine), so a subscriber's delay is its
// receive time minus that stamp. Messages (see workers.js):
//   { type: 'connect', port, path, count, batch } → { type: 'connected', count }  (count more; the total)
//   { type: 'expect', writes }  → { type: 'expecting' }, later { type: 'complete' }
//                                 once every subscriber here has every write
//   { type: 'report' }          → per-write arrivals and delays, and what went wrong

import { serveRequests } from './ipc.js'
import { openStream } from './sse-client.js'

const CONNECT_TIMEOUT_MS = 30_000

/** One entry per subscriber: its socket, the writes it saw, and whether it saw each in order. */
const subscribers = []
let writes = 0
let complete = 0 // subscribers that have all `writes`
/** Per write: how many subscribers here got it, and the longest delay among them (ns). */
let arrivals = []
let latest = []
let duplicates = 0
let outOfOrder = 0
let malformed = 0
const errors = []

function onEvent(subscriber, { data }, at) {
  let write
  try {
    write = JSON.parse(data)
  } catch {
    malformed++
    return
  }
  const { i, t } = write
  if (!Number.isInteger(i) || i < 0 || i >= writes || typeof t !== 'string') return void malformed++
  if (subscriber.seen[i]) return void duplicates++
  if (i < subscriber.last) outOfOrder++
  subscriber.seen[i] = 1
  subscriber.last = i
  subscriber.count++
  arrivals[i]++
  const delay = Number(at - BigInt(t))
  if (delay > latest[i]) latest[i] = delay
  if (subscriber.count === writes && ++complete === subscribers.length) process.send({ type: 'complete' })
}

/** Opens `count` more streams, `batch` at a time, each confirmed live (its ":ok" comment read) before the next batch. */
async function connect({ port, path, count, batch }) {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS
  for (let opened = 0; opened < count; ) {
    const size = Math.min(batch, count - opened)
    await new Promise((resolve, reject) => {
      let live = 0
      const timer = setTimeout(
        () => reject(new Error(`only ${opened + live} of ${count} streams live after ${CONNECT_TIMEOUT_MS} ms`)),
        deadline - Date.now(),
      )
      for (let n = 0; n < size; n++) {
        const subscriber = { socket: null, live: false, seen: null, last: -1, count: 0 }
        subscriber.socket = openStream({
          port,
          path,
          onComment() {
            if (subscriber.live) return // a heartbeat
            subscriber.live = true
            if (++live === size) {
              clearTimeout(timer)
              resolve()
            }
          },
          onEvent: (event, at) => onEvent(subscriber, event, at),
          onError: (error) => {
            if (errors.length < 10) errors.push(error.message)
            if (!subscriber.live) {
              clearTimeout(timer)
              reject(error)
            }
          },
        })
        subscribers.push(subscriber)
      }
    })
    opened += size
  }
  return { type: 'connected', count: subscribers.length }
}

serveRequests(async (message) => {
  switch (message.type) {
    case 'connect':
      return connect(message)
    case 'expect':
      writes = message.writes
      arrivals = new Array(writes).fill(0)
      latest = new Array(writes).fill(-Infinity)
      for (const subscriber of subscribers) subscriber.seen = new Uint8Array(writes)
      return { type: 'expecting' }
    case 'report': {
      const received = subscribers.reduce((sum, s) => sum + s.count, 0)
      return {
        type: 'report',
        subscribers: subscribers.length,
        received,
        lost: subscribers.length * writes - received,
        arrivals,
        latestNs: latest.map((ns) => (Number.isFinite(ns) ? ns : null)),
        duplicates,
        outOfOrder,
        malformed,
        closed: subscribers.filter((s) => s.socket.destroyed).length,
        errors,
      }
    }
    default:
      throw new Error(`unknown message ${message.type}`)
  }
})
