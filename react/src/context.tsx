// Which client (and so which cache: `client.cache`) the hooks below a provider use.

import {
  createClient,
  untyped,
  type AnyAtomKVClient,
  type AtomKVClient,
  type Prefetched,
  type TokenOption,
} from '@atomkv/client'
import { createContext, useContext, useEffect, useMemo, useRef, type ReactElement, type ReactNode } from 'react'

const AtomKVContext = createContext<AtomKVClient | null>(null)

export type AtomKVProviderProps = (
  | {
      /**
       * A client you made (and close) yourself, typed by a schema or not; its
       * `cache` and `token` options are yours too.
       */
      client: AnyAtomKVClient
      url?: never
      token?: never
    }
  | {
      /** The service's URL: the provider makes the client, and closes it on unmount. */
      url: string
      client?: never
      /**
       * The access token of the client it makes (see `createClient`'s `token`):
       * a string, or a function asked before each request and reconnection.
       * A new value is used from the next request on; the client is not remade.
       */
      token?: TokenOption
    }
) & {
  /**
   * Values read on the server (`prefetch(client, keys)`), for the first
   * render: the hooks on those keys show them at once, with no loading state,
   * on the server and in the browser alike (so hydration matches), and the
   * browser does not read them again; the stream brings later changes. Taken
   * once per client.
   */
  initialData?: Prefetched
  children?: ReactNode
}

/** Makes a client available to every AtomKV hook below it. */
export function AtomKVProvider(props: AtomKVProviderProps): ReactElement {
  const { url, token, initialData, children } = props
  const given = props.client && untyped(props.client)
  // The latest token, read at each request: a new one (an inline function, a
  // refreshed string) must not remake the client and drop its cache.
  const tokenRef = useRef(token)
  tokenRef.current = token
  // A client made from `url` is ours to close. Clients connect only when
  // something subscribes, so making one during a (server) render costs nothing.
  const owned = useMemo(
    () =>
      given
        ? undefined
        : createClient({
            url: url!,
            token: (context) => {
              const current = tokenRef.current
              return typeof current === 'function' ? current(context) : current
            },
          }),
    [given, url],
  )
  const client = given ?? owned!
  // Before the children render: their first render reads it.
  useMemo(() => initialData && client.cache.hydrate(initialData), [client]) // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!owned) return
    cancelClose(owned)
    return () => scheduleClose(owned)
  }, [owned])
  return <AtomKVContext.Provider value={client}>{children}</AtomKVContext.Provider>
}

// StrictMode runs effect cleanups and then the effects again: an owned client
// is closed only if its provider did not come straight back.
const pendingClose = new WeakMap<AtomKVClient, ReturnType<typeof setTimeout>>()

function scheduleClose(client: AtomKVClient): void {
  pendingClose.set(
    client,
    setTimeout(() => {
      pendingClose.delete(client)
      client.close()
    }, 0),
  )
}

function cancelClose(client: AtomKVClient): void {
  clearTimeout(pendingClose.get(client))
  pendingClose.delete(client)
}

/** @internal The provider's client; throws a clear error outside one. */
export function useAtomKVContext(hook: string): AtomKVClient {
  const client = useContext(AtomKVContext)
  if (!client) throw new Error(`${hook}() must be used inside <AtomKVProvider client={…}> (or url="…")`)
  return client
}

/** The client of the nearest `<AtomKVProvider>`; `client.cache` is what the hooks read. */
export function useAtomKVClient(): AtomKVClient {
  return useAtomKVContext('useAtomKVClient')
}
