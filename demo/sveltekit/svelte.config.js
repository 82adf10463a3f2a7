import adapter from '@sveltejs/adapter-node'
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte'

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  // A Node server: `node build`, with PORT, HOST and ATOMKV_URL from the environment.
  kit: { adapter: adapter() },
}
