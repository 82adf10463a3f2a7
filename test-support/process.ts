// A child process that counts as started once its output says so. Shared by
// the server's crash tests and the e2e helpers; no Vitest hooks, so any
// runner may import it (`@atomkv/test-support/process`).

import { type ChildProcess, spawn } from 'node:child_process'

export interface Started {
  readonly child: ChildProcess
  /** Its stdout and stderr so far, interleaved as they came. */
  output(): string
}

/**
 * Runs `node ...args` and resolves once its stdout or stderr matches `ready`;
 * rejects with its output if it exits first or is not ready within `timeoutMs`
 * (then it is killed).
 * `env` is added to this process's environment (`undefined` removes a variable).
 */
export async function startProcess(
  args: readonly string[],
  ready: RegExp,
  { cwd, env, timeoutMs = 20_000 }: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: env && { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody gets the child to stop it: stop it here.
      child.kill('SIGKILL')
      reject(new Error(`${args[0]} did not start within ${timeoutMs} ms: ${output}`))
    }, timeoutMs)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      if (ready.test(output)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${args[0]} exited with ${code ?? signal}: ${output}`))
    })
  })
  return { child, output: () => output }
}
