// What the workspace's tests share. Importing this registers clean-up hooks
// with Vitest (see harness.ts): import it from tests only. A runner other than
// Vitest imports a single file instead, as the e2e tests do
// `@atomkv/test-support/original-examples`.

export {
  afterRestart,
  startClient,
  startServer,
  TRANSPORTS,
  useTransport,
  waitFor,
  type TestServer,
  type TestServerOptions,
  type Transport,
} from './harness.js'
export { holdingFetch, type HoldingFetch } from './holding-fetch.js'
export { lateSnapshotStore, type LateSnapshotStore } from './late-snapshot-store.js'
export { memoryBacked } from './memory-backed.js'
export { ORIGINAL_FIBONACCI } from './original-examples.js'
