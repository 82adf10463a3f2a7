import { fileURLToPath } from 'node:url'
import { defineProject } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against sources, and the client's tests against a real server.
    alias: {
      '@atomkv/client': src('./src/index.ts'),
      '@atomkv/server': src('../server/src/index.ts'),
    },
  },
  test: { name: 'client', environment: 'node', testTimeout: 30_000, hookTimeout: 30_000 },
})
