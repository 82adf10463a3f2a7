import { fileURLToPath } from 'node:url'
import { defineProject } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against sources: the client's, and a real server's.
    alias: {
      '@atomkv/client': src('../client/src/index.ts'),
      '@atomkv/server': src('../server/src/index.ts'),
    },
  },
  test: {
    name: 'react',
    environment: '../test-support/dom-environment.ts',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
