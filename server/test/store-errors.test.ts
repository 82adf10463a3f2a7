// What a request answers when its store fails: a shared store out of reach
// (StoreReadError), a disk that refuses a write (StoreWriteError), or a bug
// (any other error). Over real HTTP, with a store that fails on command.

import { describe, expect, it } from 'vitest'
import { startServer } from '@atomkv/test-support'
import { MemoryStore, type Store, StoreReadError, StoreWriteError } from '../src/index.js'

type Failure = 'read' | 'write' | 'bug' | undefined

/** A memory store whose reads or writes fail while `fail` says so. */
function failingStore() {
  const memory = new MemoryStore()
  const state: { fail: Failure; reachable: boolean } = { fail: undefined, reachable: true }
  const error = (kind: 'read' | 'write') =>
    state.fail === 'bug'
      ? new Error('a bug in the store')
      : kind === 'read'
        ? new StoreReadError('the store cannot be reached')
        : new StoreWriteError('the disk refused the write')
  const guard = <T>(kind: 'read' | 'write', run: () => Promise<T>): Promise<T> =>
    state.fail === kind || state.fail === 'bug' ? Promise.reject(error(kind)) : run()
  const store: Store = {
    get: (key) => guard('read', () => memory.get(key)),
    set: (key, json) => guard('write', () => memory.set(key, json)),
    update: (key, json, revision) => guard('write', () => memory.update(key, json, revision)),
    delete: (key, revision) => guard('write', () => memory.delete(key, revision)),
    list: (subscriptions) => memory.list(subscriptions),
    subscribe: (listener) => memory.subscribe(listener),
    size: () => memory.size(),
    available: () => state.reachable,
  }
  return { memory, store, state }
}

const answer = async (response: Response) => [response.status, await response.text()] as const

describe('a store that fails', () => {
  it('answers 503 with why when it cannot read or write, and nothing changes', async () => {
    const { memory, store, state } = failingStore()
    const { url } = await startServer({ store })
    await memory.set('/k', '1')

    state.fail = 'read'
    expect(await answer(await fetch(`${url}/k`))).toEqual([503, 'the store cannot be reached'])
    state.fail = 'write'
    expect(await answer(await fetch(`${url}/k`, { method: 'POST', body: '2' }))).toEqual([
      503,
      'the disk refused the write; "/k" was not stored',
    ])
    expect(await answer(await fetch(`${url}/k`, { method: 'DELETE' }))).toEqual([
      503,
      'the disk refused the write; "/k" was not deleted',
    ])
    state.fail = undefined
    expect(await memory.get('/k')).toEqual({ json: '1', revision: 0 })
  })

  it('answers 503 to a conflict whose current value it cannot read', async () => {
    const { memory, store, state } = failingStore()
    const { url } = await startServer({ store })
    await memory.set('/k', '1')
    // The update runs (and finds a conflict); the read for the answer fails.
    const get = store.get
    store.get = (key) => {
      state.fail = 'read'
      return get(key)
    }
    const response = await fetch(`${url}/k`, {
      method: 'PUT',
      body: '2',
      headers: { 'x-revision': '5', accept: 'application/json' },
    })
    expect(await answer(response)).toEqual([503, 'the store cannot be reached'])
  })

  it('answers 500 to any other failure, and logs it', async () => {
    const { store, state } = failingStore()
    const logged: unknown[] = []
    const logger = { warn: () => {}, error: (message: string, error?: unknown) => void logged.push([message, error]) }
    const { url } = await startServer({ store, logger })
    state.fail = 'bug'
    for (const init of [{}, { method: 'POST', body: '1' }, { method: 'DELETE' }]) {
      expect(await answer(await fetch(`${url}/k`, init))).toEqual([500, 'internal server error'])
    }
    // The store's own error is logged, not the wrapper the router put around it.
    expect(logged).toEqual(Array(3).fill(['atomkv: a request failed', new Error('a bug in the store')]))
    expect(logged.every((entry) => (entry as unknown[])[1]?.constructor === Error)).toBe(true)
  })

  it('says so on /.health, and refuses new streams, while it cannot be reached', async () => {
    const { store, state } = failingStore()
    const { url } = await startServer({ store })
    expect((await fetch(`${url}/.health`)).status).toBe(200)
    // A store without chars(): the metrics leave that gauge out.
    const metrics = await fetch(`${url}/.metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toMatch(/^atomkv_keys 0$/m)
    state.reachable = false
    expect(await answer(await fetch(`${url}/.health`))).toEqual([503, 'the store cannot be reached'])
    // New streams are refused meanwhile.
    const stream = await fetch(`${url}/k`, { headers: { accept: 'text/event-stream' } })
    expect(await answer(stream)).toEqual([503, 'the store cannot be reached; retry shortly'])
  })
})
