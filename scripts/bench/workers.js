// Load-generating node processes (SSE clients, CAS loops, key fillers,
// snapshot openers), driven over IPC. They run beside the servers, never
// inside them, with the same raised open-file limit.

import { fileURLToPath } from 'node:url'
import { spawnLimited } from './servers.js'

/**
 * Starts `scripts/bench/<file>` (a worker built on ipc.js) and resolves once
 * it has loaded and said `ready`.
 * - `ask(message, replyType, timeoutMs)` sends a message and resolves to the
 *   worker's next message of `replyType`;
 * - `next(replyType, timeoutMs)` waits for one without sending anything.
 * Both reject after the timeout, when the worker reports an error, or when it dies.
 */
export async function startWorker(file) {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url))
  const child = spawnLimited(process.execPath, [path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const inbox = []
  let waiter = null
  let exit = null

  const settle = () => {
    if (!waiter) return
    // A message that nobody waited for (a late 'complete') is skipped, never taken for another reply.
    const at = inbox.findIndex((m) => m.type === waiter.type || m.type === 'error')
    if (at !== -1) {
      const [message] = inbox.splice(at, 1)
      const { resolve, reject } = waiter
      waiter = null
      if (message.type === 'error') reject(new Error(`${file}: ${message.message}`))
      else resolve(message)
    } else if (exit) {
      const { reject, type } = waiter
      waiter = null
      reject(new Error(`${file} exited (${exit}) before sending ${type}`))
    }
  }
  child.on('message', (message) => {
    inbox.push(message)
    settle()
  })
  child.on('exit', (code, signal) => {
    exit = String(code ?? signal)
    settle()
  })

  function next(type, timeoutMs) {
    if (waiter) return Promise.reject(new Error(`${file}: already waiting for ${waiter.type}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiter = null
        reject(new Error(`${file}: no ${type} within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (settler) => (value) => {
        clearTimeout(timer)
        settler(value)
      }
      waiter = { type, resolve: done(resolve), reject: done(reject) }
      settle()
    })
  }

  await next('ready', 15_000).catch((error) => {
    child.kill('SIGKILL')
    throw error
  })
  return {
    pid: child.pid,
    next,
    ask(message, type, timeoutMs) {
      child.send(message)
      return next(type, timeoutMs)
    },
    /** Asks the worker to end (closing its sockets); kills it if it has not within 5 s. */
    async stop() {
      if (exit) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      if (child.connected) child.send({ type: 'exit' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}
