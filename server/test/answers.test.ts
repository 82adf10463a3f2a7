// The exact text and cache headers of answers a client or a person reads:
// the script at `GET /`, a missing key, a bad key or prefix, the inspector
// when it is off. Over real HTTP.

import { describe, expect, it } from 'vitest'
import { startServer } from '@atomkv/test-support'
import { put } from './helpers.js'

const stream = { accept: 'text/event-stream' }

describe('answers, exactly', () => {
  it('serves the script at GET / as JavaScript that browsers revalidate', async () => {
    const { url } = await startServer()
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache')
  })

  it('answers a missing key 404, not to be cached', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/nope`)
    expect([response.status, await response.text()]).toEqual([404, 'no key "/nope"'])
    expect(response.headers.get('cache-control')).toBe('no-cache')
  })

  it('says why a key or prefix is refused, with a hint when a prefix is read as a key', async () => {
    const { url } = await startServer()
    const text = async (path: string, headers?: Record<string, string>) => {
      const response = await fetch(url + path, { headers })
      return [response.status, await response.text()]
    }
    expect(await text('/a/')).toEqual([
      400,
      'invalid key "/a/": must not end with "/" (a prefix can only be watched, with Accept: text/event-stream)',
    ])
    expect(await text('/a//b')).toEqual([400, 'invalid key "/a//b": has an empty component'])
    expect(await text('/a//b', stream)).toEqual([400, 'invalid key or prefix "/a//b": has an empty component'])
  })

  it('answers the inspector 404 with how to turn it on when it is off, not to be cached', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/.inspect`)
    expect(response.status).toBe(404)
    expect(await response.text()).toMatch(/^the inspector is off: start the server with --inspect/)
    expect(response.headers.get('cache-control')).toBe('no-cache')
  })

  it('answers a compare-and-swap conflict with the current value as JSON, not to be cached', async () => {
    const { url } = await startServer()
    await fetch(`${url}/k`, { method: 'POST', body: '"now"' })
    const response = await put(url, '/k', 1, 5, { accept: 'application/json' })
    expect([response.status, await response.text()]).toEqual([409, '"now"'])
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('x-revision')).toBe('0')
    expect(response.headers.get('cache-control')).toBe('no-cache')
  })

  it('answers 500, not a conflict, when the access check for a conflict fails', async () => {
    const { url } = await startServer({
      logger: false,
      authorize: (_, { operation }) => {
        if (operation === 'read') throw new Error('a bug in authorize')
        return true
      },
    })
    await fetch(`${url}/k`, { method: 'POST', body: '1' })
    const response = await put(url, '/k', 2, 5, { accept: 'application/json' })
    expect([response.status, await response.text()]).toEqual([500, 'internal server error'])
  })

  it('says why a DELETE is refused', async () => {
    const { url } = await startServer()
    const response = await fetch(`${url}/a//b`, { method: 'DELETE' })
    expect([response.status, await response.text()]).toEqual([400, 'invalid key "/a//b": has an empty component'])
  })

  it('takes a session name of up to 128 characters on a stream, and says why a longer one is refused', async () => {
    const { url } = await startServer()
    const open = (length: number) => fetch(`${url}/k?session=${'s'.repeat(length)}`, { headers: stream })
    const longest = await open(128)
    expect(longest.status).toBe(200)
    await longest.body!.cancel()
    const longer = await open(129)
    expect([longer.status, await longer.text()]).toEqual([400, 'session is 129 characters long (at most 128)'])
  })

  it('says why a stream is refused when the server has maxStreams open', async () => {
    const { url } = await startServer({ maxStreams: 1 })
    const first = await fetch(`${url}/k`, { headers: stream })
    expect(first.status).toBe(200)
    const second = await fetch(`${url}/k`, { headers: stream })
    expect([second.status, await second.text()]).toEqual([503, 'too many open streams (at most 1)'])
    await first.body!.cancel()
  })

  it('asks authorize for a read of "/" before /.stats and /.metrics, which tell of the whole store', async () => {
    const asked: string[] = []
    const { url } = await startServer({
      authorize: (_, { operation, key }) => {
        asked.push(`${operation} ${key}`)
        return true
      },
    })
    for (const path of ['/.stats', '/.metrics']) expect((await fetch(url + path)).status).toBe(200)
    expect(asked).toEqual(['read /', 'read /'])
  })
})

