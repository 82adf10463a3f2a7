// Tests run against sources, not builds: these aliases point each package's
// name (and the client's protocol subpath) at its source entry.

import { fileURLToPath } from 'node:url'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export const sourceAliases = [
  { find: /^@atomkv\/client$/, replacement: src('../client/src/index.ts') },
  { find: /^@atomkv\/client\/protocol$/, replacement: src('../client/src/protocol/index.ts') },
  { find: /^@atomkv\/server$/, replacement: src('../server/src/index.ts') },
]
