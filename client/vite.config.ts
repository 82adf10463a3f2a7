import { defineConfig } from 'vite'

// The browser global build served by the server at `GET /`: one IIFE defining `AtomKV`.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false, // tsc writes the ESM build and declarations beside it
    target: 'es2020',
    minify: true,
    sourcemap: false,
    lib: {
      entry: 'src/browser.ts',
      name: 'AtomKV',
      formats: ['iife'],
      fileName: () => 'atomkv.iife.js',
    },
  },
})
