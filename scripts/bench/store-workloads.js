// The workloads that need a fresh server of each kind: memory (RSS per
// stored key) and prefix-snapshot (opening a stream with initial state on a
// small prefix of a large store). They share one fresh server per kind and
// round: the "empty" opens come first, then the bulk load, then the "full" opens.

import { request } from './http.js'
import { log, startServer } from './servers.js'
import { median } from './stats.js'
import { startWorker } from './workers.js'

const PREFIX_KEYS = 10

export async function storeRound(kind, { store: { keys, opens, warmup } }) {
  const server = await startServer(kind)
  let filler, opener
  try {
    filler = await startWorker('fill-worker.js')
    opener = await startWorker('snapshot-worker.js')
    /** Writes `${prefix}0` … `${prefix}${count - 1}`. */
    const fill = (prefix, count, connections) =>
      filler.ask({ type: 'fill', port: server.port, prefix, from: 0, to: count, connections }, 'filled', 600_000)
    const open = async () => {
      const path = '/snap/p/?initial=1'
      const { ms, events } = await opener.ask({ type: 'open', port: server.port, path, opens, warmup }, 'opened', 600_000)
      if (events.some((n) => n !== PREFIX_KEYS)) {
        throw new Error(`${kind}: a snapshot of /snap/p/ sent ${events.join(',')} values, not ${PREFIX_KEYS}`)
      }
      return median(ms)
    }

    // The prefix's keys, then the same opens on a store holding nothing else.
    await fill('/snap/p/k', PREFIX_KEYS, 1)
    const emptyMs = await open()

    // RSS is read after those opens, so the code they compiled is not counted as key memory.
    await server.idle()
    const rssBefore = server.rss()
    const started = performance.now()
    await fill('/mem/k', keys, 4)
    const fillSeconds = (performance.now() - started) / 1000
    const last = await request(server.port, 'GET', `/mem/k${keys - 1}`)
    if (last.status !== 200 || JSON.parse(last.text).i !== keys - 1) {
      throw new Error(`${kind}: after the load, GET /mem/k${keys - 1} answered ${last.status} ${last.text}`)
    }
    if (!(await server.idle({ maxMs: 10_000 }))) log(`${kind}: still busy 10 s after loading ${keys} keys`)
    const rssAfter = server.rss()

    const fullMs = await open()
    return {
      memory: {
        bytesPerKey: (rssAfter - rssBefore) / keys,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        keys,
        writesPerSec: keys / fillSeconds,
      },
      snapshot: { fullMs, emptyMs, fullOverEmpty: fullMs / emptyMs, keys: keys + PREFIX_KEYS, prefixKeys: PREFIX_KEYS, opens },
    }
  } finally {
    await Promise.all([filler?.stop(), opener?.stop(), server.stop()])
  }
}
