// The client's cache (`client.cache`), which the React and Svelte adapters sit
// on: one state per watched key or prefix, shared by every observer of it.
//
// - The first observer starts one `watch(path, …, { initial: true })`: the
//   current state comes in the stream, so there is no read-then-subscribe race.
// - The last observer leaving stops it after `releaseDelayMs` (1 s by default),
//   so React StrictMode's mount → unmount → mount and quick route changes keep
//   one subscription instead of churning the stream.
// - States are frozen, and a new one is made only when something changed:
//   an unchanged revision never notifies. That is the identity contract
//   `useSyncExternalStore` and Svelte stores need.
// - Bound: the cache holds only the keys and prefixes that have observers,
//   plus those within their release delay. A handle never observed holds nothing.
//
// lifecycle.ts  CachedPath: listeners counted, one watch, the delayed release
// key.ts        CachedKey: one key
// prefix.ts     CachedPrefix: every key under a prefix
// optimistic.ts what a key shows while this client's writes are in flight
// cache.ts      the registry, its handles, and write confirmation
// observer.ts   KeyObserver: a key as one consumer sees it (initialValue, select)
// types.ts      the public shapes
// json.ts       equality of stored values, for what a reset sends again
// schema.ts     typed keys

export type { AtomKVCache } from './cache.js'
export { KeyObserver, type KeyObserverOptions, type KeyView } from './observer.js'
export * from './types.js'
export type * from './schema.js'
