// The client's connection, for an "offline" badge.

import type { ConnectionStatus } from '@atomkv/client'
import { useCallback, useSyncExternalStore } from 'react'
import { useAtomKVContext } from './context.js'

const serverSnapshot = (): ConnectionStatus => 'connecting'

/**
 * The connection status of the provider's client: `connecting`, `open`,
 * `reconnecting` or `closed` (`closed` also while nothing is subscribed).
 * Server rendering shows `connecting`.
 */
export function useAtomKVStatus(): ConnectionStatus {
  const client = useAtomKVContext('useAtomKVStatus')
  const subscribe = useCallback((onChange: () => void) => client.onStatus(onChange), [client])
  const getSnapshot = useCallback(() => client.status, [client])
  return useSyncExternalStore(subscribe, getSnapshot, serverSnapshot)
}
