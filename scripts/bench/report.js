// The figures each workload reports, and their rendering: a plain table for
// the terminal and a Markdown page for RESULTS.md. Ratios sit beside the
// absolute figures because on this shared machine the ratios are what holds.

/** [field, label, decimals, { ratio: false } when ours/baseline means nothing]; booleans render yes/NO. */
const HTTP = [
  ['rps', 'requests/s', 0],
  ['p50Ms', 'p50 latency (ms)', 2],
  ['p99Ms', 'p99 latency (ms)', 2],
  ['cpuPerRequestUs', 'server CPU per request (µs)', 1],
]
const FANOUT = [
  ['p50Ms', 'last subscriber has it, p50 (ms)', 1],
  ['p99Ms', 'last subscriber has it, p99 (ms)', 1],
  ['lost', 'events lost (must be 0)', 0, { ratio: false }],
  ['rssPerSubscriberBytes', 'RSS per idle subscriber (bytes)', 0],
  ['cpuPerDeliveryUs', 'server CPU per delivery (µs)', 2],
]

export function figuresOf(workload) {
  if (workload === 'get' || workload === 'post' || workload === 'post-durable') return HTTP
  if (workload.startsWith('fanout')) return FANOUT
  if (workload === 'cas') {
    return [
      ['updatesPerSec', 'committed updates/s', 0],
      ['conflictRatio', 'conflicts / PUTs', 3],
      ['cpuPerUpdateUs', 'server CPU per committed update (µs)', 1],
      ['consistent', 'counters sum to the commits', 0, { ratio: false }],
    ]
  }
  if (workload.startsWith('redis')) {
    return [
      ['writeRps', 'writes/s (POST, wrk)', 0],
      ['writeP99Ms', 'write p99 latency (ms)', 2],
      ['fanoutP99Ms', 'last subscriber has it, p99 (ms)', 1],
      ['lost', 'events lost (must be 0)', 0, { ratio: false }],
    ]
  }
  if (workload === 'memory') return [['bytesPerKey', 'RSS per key (bytes)', 0]]
  if (workload === 'contention') {
    return [
      ['requests', 'requests to settle 2 × 100 +1s', 0],
      ['seconds', 'time to settle (s)', 2],
      ['exact', 'counter ends at exactly 200', 0, { ratio: false }],
    ]
  }
  if (workload === 'prefix-snapshot') {
    return [
      ['fullMs', 'open to ready, full store (ms)', 2],
      ['emptyMs', 'open to ready, only the prefix (ms)', 2],
      ['fullOverEmpty', 'full / only the prefix', 2],
    ]
  }
  throw new Error(`no figures for ${workload}`)
}

function format(value, decimals) {
  if (typeof value === 'boolean') return value ? 'yes' : 'NO'
  if (value === null || value === undefined || Number.isNaN(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
}

/** Rows of [workload, figure, ours, baseline, ratio] strings, one per figure of the workloads against the baseline. */
function rows(results) {
  const out = []
  for (const [workload, { median, kinds }] of Object.entries(results.workloads)) {
    if (kinds) continue // against a reference of its own: see durableRows
    for (const [index, [field, label, decimals, { ratio = true } = {}]] of figuresOf(workload).entries()) {
      out.push([
        index === 0 ? workload : '',
        label,
        format(median.ours[field], decimals),
        format(median.baseline[field], decimals),
        ratio ? format(median.ratio[field], 2) : '–',
      ])
    }
  }
  return out
}

const HEADER = ['workload', 'figure', 'ours', 'baseline', 'ours / baseline']

/** How each store of post-durable is named in its table. */
const STORE_NAMES = { memory: 'in memory', always: '--fsync always', interval: '--fsync interval', never: '--fsync never' }

/** The post-durable table: one row per store, each figure beside its ratio to the reference (the memory store). */
function durableTable({ kinds, reference, median }) {
  const header = ['store']
  for (const [, label] of HTTP) header.push(label, `× ${STORE_NAMES[reference] ?? reference}`)
  const body = kinds.map((kind) => {
    const row = [STORE_NAMES[kind] ?? kind]
    for (const [field, , decimals] of HTTP) {
      row.push(format(median[kind][field], decimals), kind === reference ? '1.00' : format(median.ratio[kind][field], 2))
    }
    return row
  })
  return { header, body }
}

/** A plain-text table: the first `names` columns left-aligned, numbers right-aligned. */
function grid(header, body, names) {
  const all = [header, ...body]
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)))
  const line = (row) => row.map((cell, c) => (c < names ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

/** A Markdown table: the first `names` columns left-aligned, numbers right-aligned. */
function markdownGrid(header, body, names) {
  const align = header.map((_, c) => (c < names ? '---' : '--:'))
  return [header, align, ...body].map((row) => `| ${row.join(' | ')} |`).join('\n')
}

export function table(results) {
  const parts = []
  const main = rows(results)
  if (main.length > 0) parts.push(grid(HEADER, main, 2))
  const durable = results.workloads['post-durable']
  if (durable) {
    const { header, body } = durableTable(durable)
    parts.push(`post-durable (POST, ours only: each store / the memory store)\n${grid(header, body, 1)}`)
  }
  return parts.join('\n\n')
}

/** How busy the machine was (other work shares its cores): the 1-minute load average at start and end. */
const load = ({ loadavg }) => (loadavg ? `; load average ${loadavg.start.toFixed(1)} at start, ${loadavg.end.toFixed(1)} at end` : '')

export function markdown(results) {
  const { meta } = results
  const { wrk, postKeys, cas, fanout, store } = meta.settings
  const keys = store.keys.toLocaleString('en-US')
  const main = rows(results)
  const durable = results.workloads['post-durable']
  return `# AtomKV benchmark results

- command: \`${meta.command}\` (\`pnpm bench\` runs \`pnpm build\`, then this)
- machine: ${meta.cpu.cores} × ${meta.cpu.model}, ${meta.platform}, Node ${meta.node}, ${meta.wrk}
- date: ${meta.date}; ${meta.rounds} rounds, ${meta.seconds} s; open-file limit ${meta.fdLimit}${load(meta)}
- raw figures of every round: \`scripts/bench/results/${meta.smoke ? 'latest-smoke.json' : 'latest.json'}\` after a run

${main.length > 0 ? `${markdownGrid(HEADER, main, 2)}\n\n` : ''}${durable ? durableMarkdown(results) : ''}## How to read it

- **ours** is the \`atomkv\` CLI (\`server/dist/cli.js\`, in-memory store). **baseline** is
  \`scripts/bench/baseline.js\`: the same protocol on bare \`node:http\`, without our features
  (limits, resume, backlog, heartbeats, sessions), each event framed once as one HTTP chunk and that
  one buffer written to every socket; about the best Node does on this machine. Each server is its
  own process; all load comes from other processes (wrk, node workers) on 127.0.0.1, on the same cores.
- Figures are medians over the rounds; **ours / baseline** is the median of the per-round ratios,
  which holds up on a noisy machine better than the absolute figures. For requests/s and updates/s
  higher is better, so a ratio under 1 is what our layers cost; for latency, CPU and memory lower is
  better, so a ratio over 1 is the cost.
- **get**: one hot key with a ~100-byte value; wrk, ${wrk.connections} connections, ${wrk.seconds} s.
  **post**: the same, ~100-byte bodies over ${postKeys} keys. Server CPU is from \`/proc/<pid>/stat\`.
- **cas**: ${cas.loops} get-then-PUT increment loops on ${cas.keys} keys from ${cas.workers} node processes, ${cas.seconds} s;
  every round checks that the counters sum to the committed updates. The node clients are as much a
  limit as the server here: CPU per committed update is the server's own cost.
- **fanout N**: a fresh server, N raw-socket SSE subscribers on one key (in ${fanout.workers} processes), then
  ${fanout.writes} writes ${fanout.gapMs} ms apart (a write waits for the previous one's answer, so a busy
  server is not buried under a queue). Per write, the delay until the *last* subscriber has it; when
  the server cannot keep up, that is what one write's fan-out takes. RSS per subscriber is the RSS
  growth over the last four fifths of the subscribers / their number (the first fifth also pays for
  compiled code and heap growth). CPU per delivery is the server's CPU during the writes / (writes × N).
- **memory**: ${keys} ~100-byte values written into a fresh server; RSS growth / keys, read once
  the server is idle again. It includes the V8 heap's free room, so it moves with GC; ours also keeps
  a bounded backlog of recent events for resuming streams.
- **prefix-snapshot**: opening \`/snap/p/?initial=1\` (a prefix holding 10 keys) until \`event:ready\`,
  median of ${store.opens} opens, on that same fresh server before the bulk load (only the 10 keys)
  and after it (${keys} more). full / only the prefix shows whether opening a small prefix costs
  time in proportion to the whole store: the target for ours is at most 2.
- **contention**: not ours against the baseline server but two ways to update one key, both on our
  server: 2 clients × ${meta.settings.contention?.increments ?? 100} concurrent \`+1\`s each. **ours** is the client's \`modify()\` (coalesced per key,
  retrying from the value a 409 carries); **baseline** is a hand-written GET → PUT loop with the same
  jittered backoff. Requests counted at the clients; the time is until every update settled. The
  target for ours is at most 0.2 of the loop's requests and time.
- **redis-1**, **redis-2**: not ours against the baseline server but our server on Redis (one, then
  two servers on one \`redis-server\` keeping nothing on disk) against our server on the memory
  store. Writes/s: wrk POSTs as in **post** (with two servers, one wrk on each at once, half the
  connections each, added up). Then ${meta.settings.redis?.subscribers ?? 1000} SSE subscribers on one key, split over the servers,
  and the **fanout** writes all made on the first server: with two, half the subscribers hear of
  each write through the Redis feed.
`
}

/** The post-durable section: its table and how it was measured. */
export function durableMarkdown(results) {
  const { wrk, postKeys } = results.meta.settings
  const durable = results.workloads['post-durable']
  const { header, body } = durableTable(durable)
  const perRound = durable.kinds
    .filter((kind) => kind !== durable.reference)
    .map((kind) => `${STORE_NAMES[kind] ?? kind} ${durable.rounds.map((r) => format(r.ratio[kind].rps, 2)).join(', ')}`)
  return `## Durable storage: POST with \`--data\`

${markdownGrid(header, body, 1)}

Requests/s × in memory, round by round: ${perRound.join('; ')}.

- The \`post\` load (wrk, ${wrk.connections} connections, ${wrk.seconds} s, ~100-byte bodies over ${postKeys} keys)
  against our CLI only: in memory, and with \`--data <dir>\` and each \`--fsync\` policy, one
  after the other in each round (each round starts one store further on). Every run has a fresh
  server and an empty data directory in the system's temporary directory (on disk, not tmpfs),
  removed afterwards; a durable run fails unless its log holds a record for every POST answered.
- **× in memory** is the median of the per-round ratios to the memory store's run of that round.
  Requests/s: higher is better, so a ratio under 1 is what durability costs; latency and CPU: the
  other way round. The target for \`--fsync always\` is at least 0.5 on requests/s.

`
}
