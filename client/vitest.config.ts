import { defineProject } from 'vitest/config'
import { sourceAliases } from '../test-support/aliases.js'

export default defineProject({
  resolve: {
    // Tests run against sources, and the client's tests against a real server.
    alias: sourceAliases,
  },
  test: {
    name: 'client',
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
