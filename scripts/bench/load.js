// HTTP load with wrk (a C load generator: it spends far less CPU per request
// than a node client would, so more of the machine goes to the server).
// A Lua `done` hook prints wrk's own figures as one JSON line, so nothing
// depends on parsing its human-readable summary.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnLimited } from './servers.js'

const WRK = 'wrk' // from PATH: Debian's package puts it in /usr/bin

/** wrk's version line, or a clear error: `.ci/run` installs it (Debian's package). */
export function wrkVersion() {
  try {
    // wrk -v prints its version and exits with status 1.
    execFileSync(WRK, ['-v'], { stdio: 'pipe' })
  } catch (error) {
    const out = `${error.stdout ?? ''}${error.stderr ?? ''}`
    if (/^wrk /m.test(out)) return out.split('\n')[0].replace(/ Copyright.*/, '').trim()
  }
  throw new Error('wrk is not installed: `bash .ci/run` installs it (apt-get install -y wrk)')
}

const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
`

// POST over KEYS keys with ~100-byte bodies. The requests are formatted once in
// init(), so wrk's Lua costs the same small amount on both servers.
const POST = (keys) => `
local requests = {}
local n = 0
init = function(args)
  for k = 1, ${keys} do
    local body = string.format('{"key":%d,"name":"post %d","pad":"%s"}', k, k, string.rep("x", 64))
    requests[k] = wrk.format("POST", "/post/k" .. k, { ["Content-Type"] = "application/json" }, body)
  end
end
request = function()
  n = n + 1
  return requests[(n % ${keys}) + 1]
end
${DONE}`

const scripts = mkdtempSync(join(tmpdir(), 'atomkv-bench-'))
process.on('exit', () => rmSync(scripts, { recursive: true, force: true }))

function script(name, text) {
  const file = join(scripts, name)
  writeFileSync(file, text)
  return file
}

/**
 * One wrk run against `url`, with the server's CPU read around it.
 * kind: 'get' (GET url as is) or 'post' (POST over `keys` keys).
 * Resolves to { requests, rps, p50Ms, p99Ms, cpuPerRequestUs, errors }.
 */
export async function wrk(server, { kind, path = '/', keys = 1000, threads, connections, seconds }) {
  const file = kind === 'post' ? script(`post-${keys}.lua`, POST(keys)) : script('get.lua', DONE)
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', file, server.url + path]
  const cpuBefore = server.cpu()
  const output = await new Promise((resolve, reject) => {
    const child = spawnLimited(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (data) => (out += data))
    child.stderr.on('data', (data) => (out += data))
    // Bounded: wrk stops itself after `seconds`; this only catches a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`wrk ${args.join(' ')} exited with ${code}:\n${out}`))
    })
  })
  const cpu = server.cpu() - cpuBefore
  const line = /^WRK_JSON (.*)$/m.exec(output)
  if (!line) throw new Error(`wrk printed no summary:\n${output}`)
  const w = JSON.parse(line[1])
  return {
    requests: w.requests,
    rps: w.requests / (w.duration_us / 1e6),
    p50Ms: w.p50_us / 1000,
    p99Ms: w.p99_us / 1000,
    cpuPerRequestUs: cpu / w.requests,
    errors: { connect: w.connect, read: w.read, write: w.write, status: w.status, timeout: w.timeout },
  }
}
