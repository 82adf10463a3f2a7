// The start of a test store: a Store that hands every call to a MemoryStore
// except those a test replaces (a snapshot read that waits or fails, a store
// out of reach, a feed that breaks).

import type { MemoryStore, Store } from '@atomkv/server'

/** Every read and write goes to `memory`, but for the methods in `overrides`. */
export function memoryBacked(memory: MemoryStore, overrides: Partial<Store> = {}): Store {
  return {
    get: (key) => memory.get(key),
    set: (key, json) => memory.set(key, json),
    update: (key, json, revision) => memory.update(key, json, revision),
    delete: (key, revision) => memory.delete(key, revision),
    list: (subscriptions) => memory.list(subscriptions),
    subscribe: (listener) => memory.subscribe(listener),
    size: () => memory.size(),
    ...overrides,
  }
}
