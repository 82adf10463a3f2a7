import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'
import { defaultServerConditions } from 'vite'
import { defineProject } from 'vitest/config'
import { sourceAliases } from '../test-support/aliases.js'

export default defineProject({
  // Compiles the test components; svelteTesting() resolves Svelte's browser build and cleans up after each test.
  plugins: [svelte({ configFile: false }), svelteTesting()],
  resolve: {
    alias: [
      // Tests run against sources: the client's, and a real server's.
      ...sourceAliases,
      // The `browser` condition that Svelte's browser build needs would give the
      // test server h3's and srvx's service-worker builds: it runs in Node.
      { find: /^h3$/, replacement: 'h3/node' },
      { find: /^srvx$/, replacement: 'srvx/node' },
    ],
  },
  // Server rendering tests (`@vitest-environment node`) run in the ssr environment:
  // there Svelte and esm-env must resolve as on a server (no `browser` condition),
  // as in SvelteKit's server.
  environments: { ssr: { resolve: { conditions: [...defaultServerConditions] } } },
  test: {
    name: 'svelte',
    environment: '../test-support/dom-environment.ts',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
