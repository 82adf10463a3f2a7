// The client's token against a real server with access control: a string or
// a function (asked before each request and each reconnection, and once more
// with `refresh` after a 401), and how refusals reach callers and watchers.

import { describe, expect, it } from 'vitest'
import { startClient, startServer, waitFor } from '@atomkv/test-support'
import { tokenAuth } from '@atomkv/server'
import { AtomKVError } from '../src/index.js'
import { countingFetch, recorder } from './helpers.js'

const WRITER = 'client-writer-1'
const READER = 'client-reader-1'
const authorize = tokenAuth({
  [WRITER]: { read: ['/t/'], write: ['/t/'] },
  [READER]: { read: ['/t/open/'] },
})

describe('the token option', () => {
  it('sends a string token with every request; refusals carry the codes unauthenticated and forbidden', async () => {
    const server = await startServer({ authorize })
    const writer = startClient(server.url, { token: WRITER })
    expect(await writer.set('/t/a', 1)).toBe(0)
    expect(await writer.get('/t/a')).toEqual([1, 0])
    expect(await writer.update('/t/a', 2, 1)).toBe(true)

    const anonymous = startClient(server.url)
    const refused = await anonymous.get('/t/a').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(AtomKVError)
    expect(refused).toMatchObject({ code: 'unauthenticated', status: 401, key: '/t/a' })
    expect((refused as Error).message).toBe('/t/a: unauthenticated: no token or credentials to read "/t/a"')

    const reader = startClient(server.url, { token: READER })
    await expect(reader.set('/t/open/x', 1)).rejects.toMatchObject({ code: 'forbidden', status: 403 })
    await expect(reader.modify('/t/a', () => 3)).rejects.toMatchObject({ code: 'forbidden' })
  })

  it('calls a token function before each request, and once more with refresh after a 401', async () => {
    const server = await startServer({ authorize })
    const calls: boolean[] = []
    let current = 'expired-token-0'
    const counting = countingFetch()
    const kv = startClient(server.url, {
      fetch: counting.fetch,
      token: async ({ refresh }) => {
        calls.push(refresh)
        if (refresh) current = WRITER // a login flow would fetch a new token here
        return current
      },
    })
    expect(await kv.set('/t/f', 'one')).toBe(0)
    expect(calls).toEqual([false, true])
    expect(counting.requests.length).toBe(2) // the 401, then the write
    expect(await kv.get('/t/f')).toEqual(['one', 0])
    expect(calls).toEqual([false, true, false])

    // A function that has nothing new to give: no second try, the 401 is the caller's.
    const stuck = startClient(server.url, { fetch: counting.fetch, token: () => 'never-valid-token' })
    const before = counting.requests.length
    await expect(stuck.get('/t/f')).rejects.toMatchObject({ code: 'unauthenticated' })
    expect(counting.requests.length - before).toBe(1)
    // A function that throws: the request fails with its reason, and is not sent.
    const broken = startClient(server.url, {
      token: () => {
        throw new Error('no session')
      },
    })
    await expect(broken.get('/t/f')).rejects.toMatchObject({ code: 'unauthenticated', message: 'the token function failed (no session)' })
  })

  it('asks the token function again at each stream reconnection', async () => {
    const tokens: (string | undefined)[] = []
    const server = await startServer({
      authorize: (request, target) => {
        if (request.url.pathname.endsWith('/.stream')) tokens.push(request.token)
        return authorize(request, target)
      },
    })
    let generation = 0
    const kv = startClient(server.url, {
      token: () => {
        generation++
        return WRITER
      },
    })
    const watched = recorder()
    kv.watch('/t/', watched.listener)
    await waitFor(() => watched.types().includes('ready'), 'the stream to be ready')
    const opened = generation
    server.atomkv.closeStreams()
    await waitFor(() => tokens.length >= 2, 'the stream to reopen')
    expect(generation).toBeGreaterThan(opened)
    expect(tokens.every((token) => token === WRITER)).toBe(true)
    await kv.set('/t/after', 1)
    await waitFor(() => watched.types().includes('/t/after:0'), 'the write after the reconnection')
  })

  it('fails only the watch a 403 refuses; the others on the same stream go on', async () => {
    const server = await startServer({ authorize })
    const writer = startClient(server.url, { token: WRITER })
    const counting = countingFetch()
    const reader = startClient(server.url, { token: READER, fetch: counting.fetch })
    const open = recorder()
    const closed = recorder()
    reader.watch('/t/open/', open.listener)
    reader.watch('/t/closed/', closed.listener)
    await waitFor(() => closed.events.some((e) => e.type === 'error'), 'the refused watch to fail')
    const error = closed.events.find((e) => e.type === 'error')
    expect(error).toMatchObject({ error: { code: 'forbidden', status: 403 } })
    expect((error as { error: Error }).error.message).toBe('forbidden: not allowed to read "/t/closed/"')
    await waitFor(() => open.types().includes('ready'), 'the other watch to be ready')
    await writer.set('/t/open/a', 'a')
    await waitFor(() => open.types().includes('/t/open/a:0'), 'the write on the allowed watch')
    // Refused once, not retried: one stream request refused, one that serves the rest.
    expect(counting.streams().length).toBe(2)
  })

  it('ends every watch of a stream refused with 401, without retrying', async () => {
    const server = await startServer({ authorize })
    const counting = countingFetch()
    const kv = startClient(server.url, { fetch: counting.fetch })
    const a = recorder()
    const b = recorder()
    kv.watch('/t/a', a.listener)
    kv.watch('/t/b/', b.listener)
    await waitFor(() => a.types().includes('error') && b.types().includes('error'), 'both watches to fail')
    expect(a.events.at(-1)).toMatchObject({ type: 'error', error: { code: 'unauthenticated', status: 401 } })
    const iterator = kv.subscribe('/t/c')
    await expect(iterator.next()).rejects.toMatchObject({ code: 'unauthenticated' })
    expect(counting.streams().length).toBe(2)
    expect(kv.status).toBe('closed')
  })
})
