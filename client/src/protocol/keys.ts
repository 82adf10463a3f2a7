// The key rule of the original AtomKV, shared by client and server so the two
// can never disagree: a key begins with `/`, has no empty component and no
// trailing `/`, and each component is Unicode letters, digits, `-` and `_`.
// A prefix is a key followed by `/`; it covers every key below it.

// Letters and decimal digits (Unicode `Nd`, as the original's `unicode.IsDigit`): not `²` or `Ⅻ`.
const COMPONENT = String.raw`[\p{L}\p{Nd}_-]+`
const KEY_RE = new RegExp(String.raw`^(?:/${COMPONENT})+$`, 'u')
const PREFIX_RE = new RegExp(String.raw`^(?:/${COMPONENT})+/$`, 'u')
const KEY_OR_PREFIX_RE = new RegExp(String.raw`^(?:/${COMPONENT})+/?$`, 'u')
const COMPONENT_RE = new RegExp(`^${COMPONENT}$`, 'u')

/** Longest key or prefix accepted, in UTF-16 code units; bounds every map indexed by key. */
export const MAX_KEY_LENGTH = 1024

export function isKey(path: string): boolean {
  return path.length <= MAX_KEY_LENGTH && KEY_RE.test(path)
}

export function isPrefix(path: string): boolean {
  return path.length <= MAX_KEY_LENGTH && PREFIX_RE.test(path)
}

/** A key or a prefix: what a subscription may name. */
export function isKeyOrPrefix(path: string): boolean {
  return path.length <= MAX_KEY_LENGTH && KEY_OR_PREFIX_RE.test(path)
}

/** Whether `key` is covered by `subscription` (the key itself, or a prefix above it). */
export function covers(subscription: string, key: string): boolean {
  return subscription.endsWith('/') ? key.startsWith(subscription) : key === subscription
}

/** Why `path` is not a valid key or prefix, in a few words; `undefined` when it is valid. */
export function keyProblem(path: string, allowPrefix = false): string | undefined {
  if (typeof path !== 'string') return 'must be a string'
  // One regular expression for a valid path; the reason is worked out only for an invalid one.
  if (allowPrefix ? isKeyOrPrefix(path) : isKey(path)) return undefined
  if (!path.startsWith('/')) return 'must begin with "/"'
  if (path.length > MAX_KEY_LENGTH) return `longer than ${MAX_KEY_LENGTH} characters`
  if (path === '/') return allowPrefix ? 'the root "/" cannot be watched' : 'the root "/" is not a key'
  if (path.endsWith('/') && !allowPrefix) return 'must not end with "/"'
  const body = path.endsWith('/') ? path.slice(1, -1) : path.slice(1)
  for (const component of body.split('/')) {
    if (component === '') return 'has an empty component'
    if (!COMPONENT_RE.test(component))
      return `component "${component}" may hold only letters, digits, "-" and "_"`
  }
  return undefined
}

/**
 * The paths whose subscriptions want a write of `key`: the key itself, then
 * every prefix above it, nearest first (`/a/b/c` → `/a/b/c`, `/a/b/`, `/a/`).
 * Walking these finds a write's subscribers without scanning them all.
 */
export function coveringPaths(key: string): string[] {
  const paths = [key]
  for (let slash = key.lastIndexOf('/'); slash > 0; slash = key.lastIndexOf('/', slash - 1)) {
    paths.push(key.slice(0, slash + 1))
  }
  return paths
}
