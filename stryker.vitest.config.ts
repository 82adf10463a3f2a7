import { defineConfig } from 'vitest/config'
import { sourceAliases } from './test-support/aliases.js'

// The Vitest run StrykerJS drives (stryker.config.mjs): only the server's and
// the client's tests, the packages whose code is mutated. Tests that spawn the
// built CLI or the bench (a separate process from dist/) cannot see a mutant,
// so they stay out. No globalSetup: `pnpm mutate` builds the client's bundle
// (served at GET /) before the run, and nothing here needs the server's dist.
const shared = { environment: 'node', testTimeout: 30_000, hookTimeout: 30_000 } as const

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    projects: [
      {
        resolve: { alias: sourceAliases },
        test: {
          ...shared,
          name: 'server',
          root: './server',
          // These spawn dist/ (the CLI, the bench, a Vite build): their process never sees a mutant.
          exclude: [
            '**/node_modules/**',
            'test/cli.test.ts',
            'test/bench-smoke.test.ts',
            'test/durability.test.ts',
            'test/vite-build.test.ts',
            // The Redis tests run the same hub and routes as the others, over
            // redis-server: here they would add seconds to every mutant that
            // survives. Leaving them out can only lower a score, never raise it.
            'test/redis-scale.test.ts',
            'test/redis-outage.test.ts',
          ],
        },
      },
      {
        resolve: { alias: sourceAliases },
        // The tabs' tests fail under Stryker's runner (a follower's status
        // never mirrors the leader's there) and tabs/ is not mutated.
        test: { ...shared, name: 'client', root: './client', exclude: ['**/node_modules/**', 'test/tabs.test.ts'] },
      },
    ],
  },
})
