// Spawning the two servers (and every other child) and reading what a server
// costs from /proc. Each server is its own process so its CPU and RSS are its
// own: load generators never share a process with a server.

import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const OURS_CLI = `${root}server/dist/cli.js`
const BASELINE = fileURLToPath(new URL('./baseline.js', import.meta.url))

const started = performance.now()
/** A progress line on stderr, with the seconds since the bench started. */
export const log = (message) => process.stderr.write(`[bench ${Math.round((performance.now() - started) / 1000)}s] ${message}\n`)

const WANTED_FDS = 65536

/**
 * The open-file limit children get: 65536 when the hard limit allows it, else
 * the hard limit (10 000 subscribers need over 10 000 descriptors in the server).
 */
export const fdLimit = (() => {
  const probe = `ulimit -n ${WANTED_FDS} 2>/dev/null && echo ${WANTED_FDS} || ulimit -Hn`
  const answer = execFileSync('bash', ['-c', probe]).toString().trim()
  const limit = answer === 'unlimited' ? WANTED_FDS : Number(answer)
  if (limit < WANTED_FDS) {
    log(`cannot raise the open-file limit to ${WANTED_FDS} (hard limit ${answer}); children run with ${limit}`)
  }
  return limit
})()

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

// Whatever way the bench ends (an error, a timeout, process.exit), no server
// or load generator outlives it.
const running = new Set()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Spawns `command args…` through bash so it first raises its open-file limit;
 * `exec` makes the pid we hold the command's own (the node process, not bash).
 */
export function spawnLimited(command, args, options = {}) {
  const child = spawn('bash', ['-c', `ulimit -n ${fdLimit} && exec "$@"`, 'bench', command, ...args], options)
  running.add(child)
  child.on('exit', () => running.delete(child))
  return child
}

/** A port free right now on 127.0.0.1 (the kernel picks it; we release it for the server). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/** Server CPU time so far (user + system), in microseconds. */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) // utime (14th field), stime (15th)
  return (ticks * 1e6) / CLK_TCK
}

/** Resident set size, in bytes. */
export function rssBytes(pid) {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until the process has been quiet (at most one clock tick of CPU over
 * `windowMs`), so a measurement does not catch the tail of earlier work
 * (closing 10 000 sockets, a GC). Bounded by `maxMs`; returns whether it went quiet.
 */
export async function waitIdle(pid, { windowMs = 300, maxMs = 5000 } = {}) {
  const deadline = Date.now() + maxMs
  const tick = 1e6 / CLK_TCK
  while (Date.now() < deadline) {
    const before = cpuMicros(pid)
    await sleep(windowMs)
    if (cpuMicros(pid) - before <= tick) return true
  }
  return false
}

/** Any HTTP answer at all from 127.0.0.1:port (a 404 is fine: the server is up). */
function answers(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/bench-ready', agent: false, timeout: 1000 }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => req.destroy())
  })
}

/**
 * Starts one server of a kind ('ours' or 'baseline') on 127.0.0.1 and a free
 * port; resolves once it answers HTTP. Limits are raised so they never
 * interfere with a workload. `args` go to ours after those (e.g. `--data`);
 * `label` names it in progress lines and errors (default: the kind).
 */
export async function startServer(kind, { args: extra = [], label = kind } = {}) {
  if (kind === 'ours' && !existsSync(OURS_CLI)) {
    throw new Error(`${OURS_CLI} is missing: run \`pnpm build\` first (\`pnpm bench\` does)`)
  }
  const port = await freePort()
  const addr = `127.0.0.1:${port}`
  const args =
    kind === 'ours'
      ? [OURS_CLI, '--addr', addr, '--max-streams', '1000000', '--max-streams-per-client', '0', '--max-keys', '10000000', ...extra]
      : [BASELINE, '--addr', addr]
  const child = spawnLimited(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (data) => (stderr = (stderr + data).slice(-4000)))
  let exited = null
  child.on('exit', (code, signal) => (exited = { code, signal }))

  const deadline = Date.now() + 15_000
  for (;;) {
    if (exited) throw new Error(`${label} server exited (${exited.code ?? exited.signal}) before answering:\n${stderr}`)
    if (await answers(port)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${label} server did not answer on ${addr} within 15 s:\n${stderr}`)
    }
    await sleep(25)
  }
  // The figures are read from /proc/<pid>: make sure that pid is node itself.
  const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()
  if (comm !== 'node') throw new Error(`pid ${child.pid} of the ${label} server is "${comm}", not node`)

  return {
    kind: label,
    pid: child.pid,
    port,
    url: `http://${addr}`,
    cpu: () => cpuMicros(child.pid),
    rss: () => rssBytes(child.pid),
    idle: (options) => waitIdle(child.pid, options),
    /** SIGTERM, then SIGKILL if it has not gone within 5 s. */
    async stop() {
      if (exited) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}

/**
 * A redis-server (Debian's, from PATH) on 127.0.0.1, a free port and a
 * temporary directory, keeping nothing on disk: the bench measures what
 * sharing through Redis costs, not Redis's disk.
 */
export async function startRedis() {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'atomkv-bench-redis-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no']
  const child = spawnLimited('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let exited = null
  child.on('exit', (code, signal) => (exited = code ?? signal))
  child.on('error', (error) => (exited = `${error.message}: \`bash .ci/run\` installs redis-server`))
  const deadline = Date.now() + 15_000
  for (;;) {
    if (exited !== null) throw new Error(`redis-server exited (${exited}) before answering`)
    const up = await new Promise((resolve) => {
      const socket = net.createConnection({ port, host: '127.0.0.1' })
      socket.on('connect', () => socket.write('PING\r\n'))
      socket.on('data', (data) => {
        socket.destroy()
        resolve(data.toString().startsWith('+PONG'))
      })
      socket.on('error', () => resolve(false))
    })
    if (up) break
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port} within 15 s`)
    await sleep(25)
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (exited === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGKILL')
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
