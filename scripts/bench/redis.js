// The Redis workloads (issue 17): what sharing the store through Redis costs,
// against the memory store in the same run. `redis-1` is one server on Redis,
// `redis-2` two servers on one Redis; the baseline of both is one server on
// the memory store. Each run has its own redis-server and servers.
//
// - write throughput: wrk POSTs (with two servers, one wrk on each at once,
//   half the connections each, requests/s added up);
// - fan-out: subscribers on one key split over the servers, the writes all
//   made on the first: with two, half the subscribers hear of each write
//   through the Redis feed. Events lost must be 0.

import { fanoutOn } from './fanout.js'
import { wrk } from './load.js'
import { startRedis, startServer } from './servers.js'

export async function redisRun(kind, settings, round, instances) {
  const redis = kind === 'baseline' ? undefined : await startRedis()
  const servers = []
  try {
    const count = kind === 'baseline' ? 1 : instances
    for (let i = 0; i < count; i++) {
      const label = redis ? `redis-${instances} server ${i + 1}` : 'memory'
      servers.push(await startServer('ours', { args: redis ? ['--redis', redis.url] : [], label }))
    }
    const { threads, connections, seconds } = settings.wrk
    const share = Math.max(1, Math.floor(connections / servers.length))
    const loads = await Promise.all(
      servers.map((server) =>
        wrk(server, { kind: 'post', keys: settings.postKeys, threads: Math.max(1, Math.floor(threads / servers.length)), connections: share, seconds }),
      ),
    )
    for (const load of loads) {
      const { connect, read, write, status } = load.errors
      if (connect + read + write + status > 0) throw new Error(`${kind} redis-${instances}: wrk saw errors ${JSON.stringify(load.errors)}`)
    }
    const fan = await fanoutOn(servers, settings, round, settings.redis.subscribers)
    return {
      writeRps: loads.reduce((total, load) => total + load.rps, 0),
      writeP99Ms: Math.max(...loads.map((load) => load.p99Ms)),
      fanoutP99Ms: fan.p99Ms,
      lost: fan.lost,
      subscribers: fan.subscribers,
      duplicates: fan.duplicates,
      outOfOrder: fan.outOfOrder,
      malformed: fan.malformed,
      errors: fan.errors,
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
    await redis?.stop()
  }
}
