export { createClient, MAX_SUBSCRIPTION_QUERY } from './client.js'
export type { AtomKVClient, ClientOptions, DeleteOptions } from './client.js'
export { typed, untyped, type AnyAtomKVClient, type SchemaPath, type SchemaPathValue, type TypedAtomKVCache, type TypedAtomKVClient } from './typed.js'
export type { GetResult, TokenOption } from './http.js'
export type { Modifier, ModifyOptions } from './modify.js'
export { prefetch } from './prefetch.js'
export type {
  ConnectionStatus,
  SubscribeOptions,
  Subscription,
  SubscriptionEntry,
  WatchEvent,
  WatchListener,
  WatchOptions,
} from './types.js'
export * from './protocol/keys.js'
export { REMOVED } from './protocol/events.js'
export * from './errors.js'
export * from './cache/index.js'
