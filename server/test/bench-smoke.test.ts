// `pnpm bench --smoke` end to end: both servers, every workload, tiny sizes.
// It checks that the suite runs and reports and that both servers are right
// under load (no lost event, consistent compare-and-swap). It never checks a
// timing: on a shared machine those belong in the bench's ratios, not in a test.

import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bench = fileURLToPath(new URL('../../scripts/bench/index.js', import.meta.url))

/** Figures every round must report, per workload, for ours and the baseline. */
const FIGURES: Record<string, string[]> = {
  get: ['rps', 'p50Ms', 'p99Ms', 'cpuPerRequestUs'],
  post: ['rps', 'p50Ms', 'p99Ms', 'cpuPerRequestUs'],
  'post-durable': ['rps', 'p50Ms', 'p99Ms', 'cpuPerRequestUs'],
  cas: ['updatesPerSec', 'conflictRatio', 'cpuPerUpdateUs', 'committed', 'counterSum'],
  'fanout-20': ['p50Ms', 'p99Ms', 'lost', 'rssPerSubscriberBytes', 'cpuPerDeliveryUs', 'subscribers'],
  memory: ['bytesPerKey', 'rssBeforeMiB', 'rssAfterMiB'],
  'prefix-snapshot': ['fullMs', 'emptyMs', 'fullOverEmpty'],
  contention: ['requests', 'seconds', 'final'],
  'redis-1': ['writeRps', 'writeP99Ms', 'fanoutP99Ms', 'lost', 'subscribers'],
  'redis-2': ['writeRps', 'writeP99Ms', 'fanoutP99Ms', 'lost', 'subscribers'],
}

type Figures = Record<string, unknown>
interface Results {
  workloads: Record<string, { kinds?: string[]; rounds: Array<Record<string, Figures>> }>
}

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bench, '--smoke', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    // The bench bounds every step itself; this only keeps a hang from outliving the test.
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('pnpm bench --smoke', () => {
  it('runs every workload on both servers (post-durable: on each store), reports every figure, loses no event, keeps CAS consistent', async () => {
    const wrk = spawnSync('wrk', ['-v'])
    if (wrk.error) throw new Error('wrk is not installed: `bash .ci/run` installs it (apt-get install -y wrk)')

    const { code, stdout, stderr } = await runSmoke()
    expect(code, stderr.slice(-3000)).toBe(0)
    const results = JSON.parse(stdout) as Results

    expect(Object.keys(results.workloads).sort()).toEqual(Object.keys(FIGURES).sort())
    for (const [workload, fields] of Object.entries(FIGURES)) {
      const { rounds, kinds = ['ours', 'baseline'] } = results.workloads[workload]!
      expect(rounds.length).toBeGreaterThan(0)
      for (const round of rounds) {
        for (const kind of kinds) {
          for (const field of fields) {
            const value = round[kind]![field]
            expect(Number.isFinite(value), `${workload} ${kind} ${field} = ${String(value)}`).toBe(true)
          }
        }
      }
    }
    expect(results.workloads['post-durable']!.kinds).toEqual(['memory', 'always', 'interval', 'never'])
    for (const round of results.workloads['fanout-20']!.rounds) {
      expect(round.ours!.lost).toBe(0)
      expect(round.baseline!.lost).toBe(0)
      expect(round.ours!.subscribers).toBe(20)
      expect(round.baseline!.subscribers).toBe(20)
    }
    for (const workload of ['redis-1', 'redis-2']) {
      for (const round of results.workloads[workload]!.rounds) {
        for (const kind of ['ours', 'baseline'] as const) {
          expect(round[kind]!.lost, `${workload} ${kind}`).toBe(0)
          expect(round[kind]!.subscribers, `${workload} ${kind}`).toBe(20)
        }
      }
    }
    for (const round of results.workloads.contention!.rounds) {
      expect(round.ours!.exact).toBe(true)
      expect(round.baseline!.exact).toBe(true)
    }
    for (const round of results.workloads.cas!.rounds) {
      expect(round.ours!.consistent).toBe(true)
      expect(round.baseline!.consistent).toBe(true)
    }
  }, 180_000)
})
