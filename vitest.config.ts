import { defineConfig } from 'vitest/config'

// One run, one summary: each package is a Vitest project with its own config.
export default defineConfig({
  test: {
    projects: ['server', 'client', 'react', 'svelte'],
  },
})
