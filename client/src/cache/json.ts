/** Structural equality of two JSON values (what the server stores). */
export function sameJSON(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJSON(item, b[i]))
  }
  if (Array.isArray(b)) return false
  const aKeys = Object.keys(a)
  const bRecord = b as Record<string, unknown>
  return (
    aKeys.length === Object.keys(b).length &&
    aKeys.every((k) => Object.hasOwn(bRecord, k) && sameJSON((a as Record<string, unknown>)[k], bRecord[k]))
  )
}
