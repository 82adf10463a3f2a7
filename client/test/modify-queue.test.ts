// modify()'s per-key queue around its edges: calls whose signal fires while
// they wait, or while their batch is being made or written, calls still
// waiting when the client closes, and the overflow's message.

import { describe, expect, it } from 'vitest'
import { MAX_QUEUED_PER_KEY } from '../src/modify.js'
import type { AtomKVClient } from '@atomkv/client'
import { holdingFetch, startClient, startServer, waitFor } from '@atomkv/test-support'

/** A promise the test resolves by hand. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

/** Settles a promise into a plain record, so a test can look at it without awaiting. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false }
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  )
  return state
}

/**
 * Starts a `+1` modify() of `/q` and waits until its function runs; it then
 * waits for `held.open()`, so the calls made meanwhile queue behind it.
 */
async function holdFirstCall(kv: AtomKVClient) {
  const held = gate()
  let running = false
  const first = kv.modify<number>('/q', async (n) => {
    running = true
    await held.opened
    return (n ?? 0) + 1
  })
  await waitFor(() => running, 'the first call to be made')
  return { held, first }
}

describe('modify() queue', () => {
  it('a waiting call whose signal fires leaves the queue at once; its function never runs', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/q', 0)
    const { held, first } = await holdFirstCall(kv)
    const ran: string[] = []
    const controllers = [new AbortController(), new AbortController()]
    const second = track(kv.modify<number>('/q', (n) => (ran.push('second'), n! + 10), { signal: controllers[0]!.signal }))
    const third = track(kv.modify<number>('/q', (n) => (ran.push('third'), n! + 100), { signal: controllers[1]!.signal }))
    const fourth = kv.modify<number>('/q', (n) => (ran.push('fourth'), n! + 1000))

    // The third waits behind the second: aborting it must take it, not its neighbour.
    controllers[1]!.abort(new Error('third'))
    await waitFor(() => third.settled, 'the third call to reject while the first is still being made')
    expect(third.error).toMatchObject({ code: 'aborted', key: '/q' })
    expect(second.settled).toBe(false)
    controllers[0]!.abort(new Error('second'))
    await waitFor(() => second.settled, 'the second call to reject')
    expect(second.error).toMatchObject({ code: 'aborted', key: '/q' })

    held.open()
    expect(await first).toEqual([1, 1])
    expect(await fourth).toEqual([1001, 2])
    expect(ran).toEqual(['fourth'])
    expect(await kv.get('/q')).toEqual([1001, 2])
  })

  it('a signal fired while its batch is made leaves the others of the batch alone', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/q', 0)
    const { held, first } = await holdFirstCall(kv)
    // Both wait behind the first, so they form the next batch together, in order.
    const controller = new AbortController()
    const aborting = kv.modify<number>(
      '/q',
      (n) => {
        controller.abort(new Error('changed my mind'))
        return n! + 10
      },
      { signal: controller.signal },
    )
    const after = kv.modify<number>('/q', (n) => n! + 100)
    held.open()
    expect(await first).toEqual([1, 1])
    await expect(aborting).rejects.toMatchObject({ code: 'aborted', key: '/q' })
    // The other call runs again without the aborted one's change, and is written alone.
    expect(await after).toEqual([101, 2])
    expect(await kv.get('/q')).toEqual([101, 2])
  })

  it('a signal fired while its write is out rejects it when that write conflicts, instead of retrying; the calls behind go on', async () => {
    const server = await startServer()
    const holding = holdingFetch((method) => method === 'PUT')
    const kv = startClient(server.url, { fetch: holding.fetch })
    const other = startClient(server.url)
    await other.set('/q', 0)
    const controller = new AbortController()
    holding.hold()
    let runs = 0
    const call = kv.modify<number>('/q', (n) => (runs++, n! + 1), { signal: controller.signal })
    await waitFor(() => holding.waiting === 1, 'the write to be sent')
    // Someone else writes first, and the caller gives up while its write is out.
    await other.set('/q', 50)
    const behind = track(kv.modify<number>('/q', (n) => n! + 1))
    controller.abort(new Error('too late'))
    holding.release()
    await expect(call).rejects.toMatchObject({ code: 'aborted', key: '/q' })
    expect(runs).toBe(1)
    await waitFor(() => behind.settled, 'the call waiting behind to be written')
    expect(behind.value).toEqual([51, 2])
    expect(await other.get('/q')).toEqual([51, 2])
  })

  it('calls still waiting when the client closes reject with closed', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    await kv.set('/q', 0)
    const { held, first } = await holdFirstCall(kv)
    let ran = false
    const waiting = kv.modify<number>('/q', (n) => ((ran = true), n! + 1))
    kv.close()
    held.open()
    await first.catch(() => undefined) // its write went out as the client closed: either way is fine
    await expect(waiting).rejects.toMatchObject({ code: 'closed', key: '/q', message: 'the client is closed' })
    expect(ran).toBe(false)
  })

  it('says which key overflowed and the limit it passed', async () => {
    const server = await startServer()
    const kv = startClient(server.url)
    const { held, first } = await holdFirstCall(kv)
    const waiting = Array.from({ length: MAX_QUEUED_PER_KEY }, () => kv.modify<number>('/q', (n) => (n ?? 0) + 1))
    await expect(kv.modify<number>('/q', (n) => n ?? 0)).rejects.toThrow(
      `/q: more than ${MAX_QUEUED_PER_KEY} modify() calls waiting on this key`,
    )
    held.open()
    await Promise.all([first, ...waiting])
  })
})
