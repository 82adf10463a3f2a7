import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { CliError, parseCli } from '../src/args.js'
import { waitFor } from '@atomkv/test-support'
import { set, SSEClient } from './helpers.js'
import { startRedis } from './redis-server.js'

describe('parseCli', () => {
  it('defaults to every interface on port 8000', () => {
    expect(parseCli([])).toEqual({ command: 'serve', hostname: undefined, port: 8000, options: {} })
  })

  it('takes --addr in every spelling, and ATOMKV_ADDR as a fallback', () => {
    const addr = (argv: string[], env = {}) => {
      const command = parseCli(argv, env)
      return command.command === 'serve' ? [command.hostname, command.port] : undefined
    }
    expect(addr(['--addr', ':9000'])).toEqual([undefined, 9000])
    expect(addr(['-addr', ':9001'])).toEqual([undefined, 9001])
    expect(addr(['--addr=127.0.0.1:9002'])).toEqual(['127.0.0.1', 9002])
    expect(addr(['-addr=localhost:9003'])).toEqual(['localhost', 9003])
    expect(addr(['--addr', '[::1]:9004'])).toEqual(['::1', 9004])
    expect(addr(['--addr', '9005'])).toEqual([undefined, 9005])
    expect(addr([], { ATOMKV_ADDR: '0.0.0.0:9006' })).toEqual(['0.0.0.0', 9006])
    expect(addr(['--addr', ':9007'], { ATOMKV_ADDR: ':1' })).toEqual([undefined, 9007])
  })

  it('maps the limit flags to options, with units', () => {
    const command = parseCli([
      '--max-value-bytes', '64KiB',
      '--max-keys', '500',
      '--max-depth', '64',
      '--max-key-length', '100',
      '--expire-after', '12h',
      '--heartbeat', '500ms',
      '--max-queue', '2m',
      '--backlog-events', '100',
      '--backlog-bytes', '1048576',
      '--max-subscriptions', '50',
      '--max-streams', '7',
      '--max-total-subscriptions', '900',
      '--max-streams-per-client', '0',
      '--retiring-grace', '2s',
    ]) // prettier-ignore
    expect(command).toEqual({
      command: 'serve',
      hostname: undefined,
      port: 8000,
      options: {
        maxValueBytes: 65536,
        maxKeys: 500,
        maxDepth: 64,
        maxKeyLength: 100,
        expireAfterMs: 12 * 3600 * 1000,
        heartbeatMs: 500,
        maxQueueBytes: 2 * 1024 * 1024,
        backlog: { maxEvents: 100, maxBytes: 1048576 },
        maxSubscriptionsPerStream: 50,
        maxStreams: 7,
        maxTotalSubscriptions: 900,
        maxStreamsPerClient: 0,
        retiringGraceMs: 2000,
      },
    })
    expect(parseCli(['--log-requests'])).toMatchObject({ options: { requestLog: expect.any(Function) } })
    // Every flag from the environment, the flag winning.
    const env = { ATOMKV_MAX_KEYS: '12', ATOMKV_HEADERS_TIMEOUT: '2s', ATOMKV_MAX_DEPTH: '9', ATOMKV_LOG_REQUESTS: '1' }
    expect(parseCli(['--max-depth', '7'], env)).toMatchObject({
      options: { maxKeys: 12, headersTimeoutMs: 2000, maxDepth: 7, requestLog: expect.any(Function) },
    })
    expect(() => parseCli([], { ATOMKV_MAX_KEYS: 'many' })).toThrow(/--max-keys "many": expected a whole number/)
    expect((parseCli([]) as { options: object }).options).not.toHaveProperty('requestLog')
    expect(parseCli(['--expire-after', '0'])).toMatchObject({ options: { expireAfterMs: 0 } })
    expect(parseCli(['--expire-after', '90'])).toMatchObject({ options: { expireAfterMs: 90_000 } })
  })

  it('reads --auth FILE (or ATOMKV_AUTH) at start, refusing a bad file with its name and the bad entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomkv-auth-'))
    try {
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text)
        return join(dir, name)
      }
      const good = file('good.json', JSON.stringify({ tokens: { 'a-long-token': { read: ['/'], write: ['/room/'] } } }))
      expect(parseCli(['--auth', good])).toMatchObject({ options: { authorize: expect.any(Function) } })
      expect(parseCli([], { ATOMKV_AUTH: good })).toMatchObject({ options: { authorize: expect.any(Function) } })
      const cases: [string, RegExp][] = [
        [join(dir, 'missing.json'), /--auth .*missing\.json: cannot read it \(ENOENT\)/],
        [file('bad.json', '{ tokens: '), /--auth .*bad\.json: not valid JSON/],
        [file('flat.json', '{"a-long-token": {"read": ["/"]}}'), /--auth .*flat\.json: must be \{ "tokens"/],
        [file('key.json', '{"tokens": {"a-long-token": {"read": ["/ok/", "no-slash"]}}}'), /key\.json: tokens\["a-lo…"\]\.read\[1\] "no-slash" is not a key or prefix: must begin with "\/"/],
      ]
      for (const [path, message] of cases) {
        expect(() => parseCli(['--auth', path]), path).toThrow(CliError)
        expect(() => parseCli(['--auth', path]), path).toThrow(message)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('takes --cors-origin repeated or comma-separated, and ATOMKV_CORS_ORIGIN', () => {
    const origins = (argv: string[], env = {}) => (parseCli(argv, env) as { options: { corsOrigins?: unknown } }).options.corsOrigins
    expect(origins([])).toBeUndefined()
    expect(origins(['--cors-origin', 'https://a.example', '--cors-origin', 'http://localhost:3000'])).toEqual(['https://a.example', 'http://localhost:3000'])
    expect(origins(['--cors-origin', 'https://a.example, https://b.example'])).toEqual(['https://a.example', 'https://b.example'])
    expect(origins([], { ATOMKV_CORS_ORIGIN: 'https://a.example,https://b.example' })).toEqual(['https://a.example', 'https://b.example'])
    expect(origins(['--cors-origin', '*'])).toBe('*')
    expect(() => parseCli(['--cors-origin', 'https://a.example/app'])).toThrow(/--cors-origin "https:\/\/a.example\/app" is not an origin/)
    expect(() => parseCli(['--cors-origin', '*,https://a.example'])).toThrow(/alone/)
    expect(() => parseCli(['--cors-origin', 'a.example'])).toThrow(/not a URL/)
  })

  it('takes --data and --fsync, and refuses --fsync alone or a policy it does not know', () => {
    const options = (argv: string[], env = {}) => (parseCli(argv, env) as { options: Record<string, unknown> }).options
    expect(options(['--data', './d'])).toMatchObject({ data: './d' })
    expect(options(['--data', './d', '--fsync', 'interval'])).toMatchObject({ data: './d', fsync: 'interval' })
    expect(options([], { ATOMKV_DATA: '/var/lib/atomkv', ATOMKV_FSYNC: 'never' })).toMatchObject({ data: '/var/lib/atomkv', fsync: 'never' })
    expect(() => parseCli(['--fsync', 'always'])).toThrow(/--fsync needs --data/)
    expect(() => parseCli(['--data', 'd', '--fsync', 'sometimes'])).toThrow(/--fsync must be one of always, interval, never, got "sometimes"/)
    expect(() => parseCli(['--data', ''])).toThrow(/--data needs a directory/)
  })

  it('takes --redis (or ATOMKV_REDIS), a redis:// or rediss:// URL, not with --data', () => {
    const options = (argv: string[], env = {}) => (parseCli(argv, env) as { options: Record<string, unknown> }).options
    expect(options(['--redis', 'redis://127.0.0.1:6379'])).toMatchObject({ redis: 'redis://127.0.0.1:6379' })
    expect(options([], { ATOMKV_REDIS: 'rediss://u:p@cache.internal:6380/2' })).toMatchObject({ redis: 'rediss://u:p@cache.internal:6380/2' })
    expect(() => parseCli(['--redis', '127.0.0.1:6379'])).toThrow(/--redis "127.0.0.1:6379": expected a URL such as redis:\/\/127.0.0.1:6379/)
    expect(() => parseCli(['--redis', 'redis://h', '--data', 'd'])).toThrow(/--redis and --data cannot be used together/)
  })

  it('answers --help and -h', () => {
    expect(parseCli(['--help'])).toEqual({ command: 'help' })
    expect(parseCli(['-h'])).toEqual({ command: 'help' })
  })

  it('refuses bad flags with a message', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--nope'], /nope/],
      [['stray'], /stray/],
      [['--addr', 'localhost'], /--addr "localhost"/],
      [['--addr', ':99999'], /--addr/],
      [['--max-keys', 'many'], /--max-keys "many"/],
      [['--max-value-bytes', '1.5MiB'], /--max-value-bytes/],
      [['--expire-after', '2 weeks'], /--expire-after/],
      [['--addr'], /addr/],
    ]
    for (const [argv, message] of cases) {
      expect(() => parseCli(argv), argv.join(' ')).toThrow(CliError)
      expect(() => parseCli(argv), argv.join(' ')).toThrow(message)
    }
  })
})

describe('the atomkv command (dist/cli.js)', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  })

  function run(args: string[]) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const output = { stdout: '', stderr: '' }
    child.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk))
    child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    return { child, output, exited }
  }

  it('serves, logs one start line, and exits 0 promptly on SIGTERM with a stream open', async () => {
    const { child, output, exited } = run(['--addr', '127.0.0.1:0'])
    await waitFor(() => /listening/.test(output.stdout), 'the start line', 15_000)
    const url = /^atomkv listening on (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(output.stdout)?.[1]
    expect(url, output.stdout).toBeDefined()

    expect(await set(url!, '/cli', 'hello')).toBe(0)
    expect(await (await fetch(`${url}/cli`)).json()).toBe('hello')
    const stream = await SSEClient.open(`${url}/cli`)
    await set(url!, '/cli', 'again')
    await stream.waitForWrites(1)

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    await waitFor(() => stream.ended, 'the stream to end')
    expect(output.stderr).toBe('')
  })

  it('warns at start when it listens on every interface without access control, not with --auth', async () => {
    const open = run(['--addr', ':0'])
    // stderr and stdout are two pipes: the warning, written first, may arrive second.
    await waitFor(() => /listening/.test(open.output.stdout) && /access control/.test(open.output.stderr), 'the start line and the warning', 15_000)
    expect(open.output.stderr).toMatch(/listening on every interface with no access control: anyone who can reach port \d+ can read and write every key.*--auth FILE/s)
    open.child.kill('SIGTERM')
    expect(await open.exited).toBe(0)

    const dir = mkdtempSync(join(tmpdir(), 'atomkv-auth-'))
    try {
      const file = join(dir, 'tokens.json')
      writeFileSync(file, JSON.stringify({ tokens: { 'cli-token-123': { read: ['/cli/'], write: ['/cli/'] } } }))
      const guarded = run(['--addr', ':0', '--auth', file])
      await waitFor(() => /listening/.test(guarded.output.stdout), 'the start line', 15_000)
      const url = /listening on (http:\/\/\S+)\/$/m.exec(guarded.output.stdout)![1]!.replace('localhost', '127.0.0.1')
      expect((await fetch(`${url}/cli/a`)).status).toBe(401)
      const written = await fetch(`${url}/cli/a`, { method: 'POST', body: '1', headers: { authorization: 'Bearer cli-token-123' } })
      expect(written.status).toBe(200)
      guarded.child.kill('SIGTERM')
      expect(await guarded.exited).toBe(0)
      expect(guarded.output.stderr).toBe('')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says where the data lives at start, and exits 1 on a data directory in use or unusable', async () => {
    const memory = run(['--addr', '127.0.0.1:0'])
    await waitFor(() => /data in/.test(memory.output.stdout), 'the storage line', 15_000)
    expect(memory.output.stdout).toMatch(/data in memory only .*; a key not written for 7d is dropped/)
    memory.child.kill('SIGTERM')
    const dir = mkdtempSync(join(tmpdir(), 'atomkv-cli-data-'))
    try {
      const first = run(['--addr', '127.0.0.1:0', '--data', dir])
      await waitFor(() => /data in/.test(first.output.stdout), 'the storage line', 15_000)
      expect(first.output.stdout).toContain(`data in ${dir} (fsync always); keys are kept until deleted`)
      const second = run(['--addr', '127.0.0.1:0', '--data', dir])
      expect(await second.exited).toBe(1)
      expect(second.output.stderr).toMatch(/cannot open the data directory: .* is in use by another running server/)
      first.child.kill('SIGTERM')
      expect(await first.exited).toBe(0)
      writeFileSync(join(dir, 'a-file'), '')
      const unusable = run(['--addr', '127.0.0.1:0', '--data', join(dir, 'a-file')])
      expect(await unusable.exited).toBe(1)
      expect(unusable.output.stderr).toMatch(/cannot open the data directory: cannot create .*a-file/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says it keeps the data in Redis (no password shown), and exits 1 when Redis cannot be reached', async () => {
    const redis = await startRedis({ args: ['--requirepass', 'secret'] })
    const shared = run(['--addr', '127.0.0.1:0', '--redis', `redis://:secret@127.0.0.1:${redis.port}`])
    await waitFor(() => /data in/.test(shared.output.stdout), 'the storage line', 15_000)
    expect(shared.output.stdout).toContain(`data in Redis at redis://127.0.0.1:${redis.port}, shared with every server on it; keys are kept until deleted`)
    expect(shared.output.stdout).not.toContain('secret')
    shared.child.kill('SIGTERM')
    expect(await shared.exited).toBe(0)
    await redis.stop()
    const unreachable = run(['--addr', '127.0.0.1:0', '--redis', `redis://127.0.0.1:${redis.port}`])
    expect(await unreachable.exited).toBe(1)
    expect(unreachable.output.stderr).toMatch(/^atomkv: cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/)
  })

  it('exits 2 with a message naming the file when --auth is bad', async () => {
    const { output, exited } = run(['--auth', '/nonexistent/tokens.json'])
    expect(await exited).toBe(2)
    expect(output.stderr).toMatch(/^atomkv: --auth \/nonexistent\/tokens\.json: cannot read it/)
  })

  it('exits 2 with the usage on a bad flag', async () => {
    const { output, exited } = run(['--bogus'])
    expect(await exited).toBe(2)
    expect(output.stderr).toMatch(/^atomkv: .*bogus/)
    expect(output.stderr).toContain('Usage: atomkv')
  })

  it('prints the usage with every option on --help', async () => {
    const { output, exited } = run(['--help'])
    expect(await exited).toBe(0)
    for (const flag of ['--addr', '--max-value-bytes', '--expire-after', '--max-keys', '--backlog-events', '--heartbeat']) {
      expect(output.stdout).toContain(flag)
    }
  })

  it('exits 1 with a message when the address is taken', async () => {
    const first = run(['--addr', '127.0.0.1:0'])
    await waitFor(() => /listening/.test(first.output.stdout), 'the first server', 15_000)
    const port = /:(\d+)\/$/m.exec(first.output.stdout)![1]
    const second = run(['-addr', `127.0.0.1:${port}`])
    expect(await second.exited).toBe(1)
    expect(second.output.stderr).toMatch(/already in use/)
    first.child.kill('SIGINT')
    expect(await first.exited).toBe(0)
  })
})
