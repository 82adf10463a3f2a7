import { defineProject } from 'vitest/config'
import { sourceAliases } from '../test-support/aliases.js'

export default defineProject({
  resolve: {
    // Tests run against the client's source, not a stale build.
    alias: sourceAliases,
  },
  test: {
    name: 'server',
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Builds the client's browser bundle (served at GET /) and the server's dist (the CLI test spawns it).
    globalSetup: ['./test/global-setup.ts'],
  },
})
