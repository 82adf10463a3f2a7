// Which client the stores of a component tree use, when not given one.

import { untyped, type AnyAtomKVClient, type AtomKVClient } from '@atomkv/client'
import { getContext, hasContext, setContext } from 'svelte'

const KEY = Symbol('atomkv-client')

/**
 * Makes `client` the one that `atomkv()`, `atomkvPrefix()` and `atomkvStatus()`
 * use in this component and its children (they read `client.cache`). Call it
 * during a component's initialisation, like `setContext`.
 */
export function setAtomKVClient<C extends AnyAtomKVClient>(client: C): C {
  setContext(KEY, untyped(client))
  return client
}

/** The client set by `setAtomKVClient` in a parent component. Call it during component initialisation. */
export function getAtomKVClient(): AtomKVClient {
  let client: AtomKVClient | undefined
  try {
    client = hasContext(KEY) ? getContext<AtomKVClient>(KEY) : undefined
  } catch (cause) {
    throw new Error('AtomKV: outside a component, pass the client: atomkv(key, { client })', { cause })
  }
  if (!client) {
    throw new Error('AtomKV: no client: call setAtomKVClient(client) in a parent component, or pass { client }')
  }
  return client
}

/** `client` when given, else the context's. */
export function resolveClient(client: AnyAtomKVClient | undefined): AtomKVClient {
  return client ? untyped(client) : getAtomKVClient()
}
