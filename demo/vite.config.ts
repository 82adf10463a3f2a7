import { fileURLToPath } from 'node:url'
import { atomkv } from '@atomkv/server/vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const page = (name: string) => fileURLToPath(new URL(`./${name}.html`, import.meta.url))

// The data directory (git-ignored); ATOMKV_PERSIST='' turns persistence off (the end-to-end tests start from a clean store).
const persist = process.env.ATOMKV_PERSIST ?? '.atomkv'

export default defineConfig({
  plugins: [
    // The demo's tabs share one stream: open ten, the server still sees one connection per browser.
    atomkv({ persist: persist || undefined, seed: { '/demo/counter': 0 }, client: { shareAcrossTabs: true } }),
    react(),
    svelte(),
  ],
  build: {
    rollupOptions: { input: { index: page('index'), react: page('react'), svelte: page('svelte') } },
  },
})
