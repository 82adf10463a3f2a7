import { defineConfig } from '@playwright/test'

// The demo's port; another one (E2E_PORT) lets two checkouts run their tests side by side.
const port = Number(process.env.E2E_PORT ?? 5199)

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  workers: 2,
  // Each demo test has its own keys (a room, see tests/room.ts), and those that
  // count a service's streams their own server: any two tests may run at once,
  // and --repeat-each works. A file's tests still run in order in one worker.
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['json'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    // The demo's Vite dev server, with the AtomKV plugin inside and nothing persisted.
    command: `pnpm exec vite --host 127.0.0.1 --port ${port} --strictPort`,
    cwd: '../demo',
    env: { ATOMKV_PERSIST: '' },
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
})
