// Typed keys: a schema maps keys to value types once,
// `{ '/counter': number; '/todos/': Todo }`. A name ending with `/` types every
// key under that prefix. The adapters' `defineKeys<Schema>()` are built on these.

/** The declared prefixes of schema `S`. */
type SchemaPrefixes<S> = Extract<keyof S, `/${string}/`>

/** A key that schema `S` gives a type: a declared key, or any key under a declared prefix. */
export type SchemaKey<S> = Exclude<Extract<keyof S, string>, `${string}/`> | `${SchemaPrefixes<S>}${string}`

/** A prefix of schema `S`: a declared prefix or any prefix under one. */
export type SchemaPrefix<S> = SchemaPrefixes<S> | `${SchemaPrefixes<S>}${string}/`

/** The value type of `key` in schema `S` (a union when nested prefixes both match). */
export type SchemaValue<S, K extends string> = K extends keyof S
  ? S[K]
  : { [P in SchemaPrefixes<S>]: K extends `${P}${string}` ? S[P] : never }[SchemaPrefixes<S>]

/** The value type of keys under `prefix` in schema `S`: what any key it covers may hold. */
export type SchemaPrefixValue<S, Pre extends string> = {
  [K in Extract<keyof S, string>]: K extends `${Pre}${string}`
    ? S[K] // declared below (or at) the prefix
    : K extends `${string}/`
      ? Pre extends `${K}${string}`
        ? S[K] // a declared prefix above it
        : never
      : never
}[Extract<keyof S, string>]
