// The worker side of the IPC in workers.js: the worker says `ready` once
// loaded (so a timed run never includes node's start-up), each message gets
// one reply (the handler's result, or `{ type: 'error' }`), and
// `{ type: 'exit' }` ends the worker, which closes every socket it holds.

export function serveRequests(handler) {
  process.on('message', async (message) => {
    if (message.type === 'exit') process.exit(0)
    try {
      process.send(await handler(message))
    } catch (error) {
      process.send({ type: 'error', message: error?.stack ?? String(error) })
    }
  })
  // An orchestrator that died must not leave load running.
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'ready' })
}
