import { defineProject } from 'vitest/config'
import { sourceAliases } from '../test-support/aliases.js'

export default defineProject({
  resolve: {
    // Tests run against sources: the client's, and a real server's.
    alias: sourceAliases,
  },
  test: {
    name: 'react',
    environment: '../test-support/dom-environment.ts',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
