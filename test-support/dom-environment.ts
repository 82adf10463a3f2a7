// happy-dom for the DOM, Node's own networking for the client.
//
// Vitest's happy-dom environment also installs happy-dom's fetch, which
// applies browser CORS rules and an HTTP cache of its own to requests to the
// test server, and whose AbortSignal Node's fetch refuses. These tests are
// about the adapters, not about happy-dom's networking: keep Node's.

import { builtinEnvironments, type Environment } from 'vitest/runtime'

const NETWORK = [
  'fetch',
  'Request',
  'Response',
  'Headers',
  'AbortController',
  'AbortSignal',
  'URL',
  'URLSearchParams',
  'FormData',
] as const

const environment: Environment = {
  name: 'happy-dom-node-network',
  viteEnvironment: 'client',
  async setup(global: Record<string, unknown>, options: Record<string, unknown>) {
    const node = new Map(NETWORK.map((key) => [key, global[key]]))
    const happyDom = await builtinEnvironments['happy-dom'].setup(global, options)
    for (const [key, value] of node) {
      Object.defineProperty(global, key, { value, configurable: true, writable: true })
    }
    return {
      teardown: (g: Record<string, unknown>) => happyDom.teardown(g),
    }
  },
}

export default environment
