// The inspector's files over real HTTP: off by default (a 404 that says how to
// turn it on), served with a restrictive CSP when on, open like the client's
// script (with access control, the data it uses is not), and in the CLI.

import { beforeEach, describe, expect, it } from 'vitest'
import { startServer, TRANSPORTS, useTransport } from '@atomkv/test-support'
import { parseCli } from '../src/args.js'
import { tokenAuth } from '../src/index.js'

describe.each(TRANSPORTS)('the inspector (%s)', (transport) => {
  beforeEach(() => useTransport(transport))

  it('is off by default: 404 with a text that says how to turn it on', async () => {
    const server = await startServer()
    for (const path of ['/.inspect', '/.inspect.js', '/.inspect.css']) {
      const response = await fetch(server.url + path)
      expect(response.status, path).toBe(404)
      expect(response.headers.get('content-type'), path).toBe('text/plain; charset=utf-8')
      expect(await response.text(), path).toMatch(/the inspector is off: start the server with --inspect .*inspect: true/)
    }
  })

  it('serves its page, script and style when on, with a CSP that allows only this origin', async () => {
    const server = await startServer({ inspect: true })
    const page = await fetch(`${server.url}/.inspect`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe')
    const html = await page.text()
    // The client's script from the service's root, then the inspector's: relative, wherever it is mounted.
    expect(html).toMatch(/<script src="\.\/" defer><\/script>\s*<script src="\.\/\.inspect\.js" defer><\/script>/)
    // No inline script (the CSP would block it) and no absolute URL.
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/)
    expect(html).not.toMatch(/(?:src|href)="\/(?!\/)/)

    const script = await fetch(`${server.url}/.inspect.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await script.text()).toContain('window).AtomKV')
    const style = await fetch(`${server.url}/.inspect.css`)
    expect(style.status).toBe(200)
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8')

    // It is only read: other methods are not allowed, and nothing was stored.
    const post = await fetch(`${server.url}/.inspect`, { method: 'POST', body: '1' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, OPTIONS')
    expect(server.atomkv.stats().keys).toBe(0)
  })

  it('with access control, serves the page to anyone, and the data only with a token', async () => {
    const reader = 'reader-token-0001'
    const server = await startServer({ inspect: true, authorize: tokenAuth({ tokens: { [reader]: { read: ['/public/'] } } }) })
    expect((await fetch(`${server.url}/.inspect`)).status).toBe(200)
    expect((await fetch(`${server.url}/.inspect.js`)).status).toBe(200)
    // What the page asks for is checked as any request is.
    expect((await fetch(`${server.url}/.stats`)).status).toBe(401)
    const stats = await fetch(`${server.url}/.stats`, { headers: { authorization: `Bearer ${reader}` } })
    expect(stats.status).toBe(403)
    const write = await fetch(`${server.url}/public/a`, {
      method: 'PUT',
      body: '1',
      headers: { authorization: `Bearer ${reader}`, 'x-revision': '0' },
    })
    expect(write.status).toBe(403)
  })
})

describe('--inspect', () => {
  it('turns the inspector on, from the flag or ATOMKV_INSPECT', () => {
    expect(parseCli(['--inspect'])).toMatchObject({ options: { inspect: true } })
    expect(parseCli([], { ATOMKV_INSPECT: '1' })).toMatchObject({ options: { inspect: true } })
    expect((parseCli([]) as { options: object }).options).not.toHaveProperty('inspect')
    expect((parseCli([], { ATOMKV_INSPECT: '0' }) as { options: object }).options).not.toHaveProperty('inspect')
  })
})
