// The AtomKV protocol as both sides use it: the key rule, event ids, the names
// on the wire and the limits they share. No dependencies, no side effects:
// the server imports this (as `@atomkv/client/protocol`) and nothing else of
// the client.

export * from './keys.js'
export * from './events.js'
export * from './wire.js'
