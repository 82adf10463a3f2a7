// The files a server serves from its package (the client's browser build at
// `GET /`, the inspector's page) missing, as in a broken install: a 500 that
// says what is missing and how to fix it, logged once. The file reads are
// replaced; the server and its HTTP are real.

import { describe, expect, it, vi } from 'vitest'
import { startServer } from '@atomkv/test-support'
import { capturingLogger } from './helpers.js'

vi.mock('../src/client-bundle.js', () => ({ clientBundle: async () => undefined }))
vi.mock('../src/inspector.js', async (original) => ({
  ...(await original<typeof import('../src/inspector.js')>()),
  inspectorFile: async () => {
    throw new Error('ENOENT: no such file')
  },
}))

describe('files missing from the package', () => {
  it("answers GET / with 500 and how to build the client's script, logged once", async () => {
    const logger = capturingLogger()
    const { url } = await startServer({ logger })
    for (let i = 0; i < 3; i++) {
      const response = await fetch(url)
      expect(response.status).toBe(500)
      expect(await response.text()).toBe(
        'the browser build of @atomkv/client is missing: build it with `pnpm --filter @atomkv/client build`',
      )
      // Logged at the first request, and not again.
      expect(logger.errors).toHaveLength(1)
    }
    expect(logger.errors).toEqual([
      'atomkv: GET / has no script to serve: the browser build of @atomkv/client is missing',
    ])
  })

  it("answers the inspector's page with 500 when its files are missing, and logs why", async () => {
    const logger = capturingLogger()
    const { url } = await startServer({ logger, inspect: true })
    const response = await fetch(`${url}/.inspect`)
    expect(response.status).toBe(500)
    expect(await response.text()).toBe("the inspector's files are missing from @atomkv/server")
    expect(logger.errors).toEqual(["atomkv: cannot read the inspector's files"])
  })
})
