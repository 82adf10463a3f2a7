/**
 * The prefixes that cover `key`, nearest first: `/a/b/c` → `/a/b/`, `/a/`.
 * Walking these finds every subscription of a key without scanning them all.
 */
export function prefixesOf(key: string): string[] {
  const prefixes: string[] = []
  for (let end = key.lastIndexOf('/'); end > 0; end = key.lastIndexOf('/', end - 1)) {
    prefixes.push(key.slice(0, end + 1))
  }
  return prefixes
}
