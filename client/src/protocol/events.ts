// Event ids. Every event carries `id:<key>:<revision>`, exactly as the
// original AtomKV; keys cannot contain `:`, so the last `:` splits it.
//
// A removal (a `DELETE`, or a key that expired) is an ordinary event with
// revision `-1` and data `null`: a client of the original, which reads
// `JSON.parse(data)` and the revision from the id, sees the key go to
// `[null, -1]`, the pair a `GET` of a missing key gives.

/** The revision of a missing key, and of the event that removes one. */
export const REMOVED = -1

export function formatEventId(key: string, revision: number): string {
  return `${key}:${revision}`
}

/** The key and revision an event id names (`-1`: a removal); `undefined` when it is not an event's id. */
export function parseEventId(id: string): { key: string; revision: number } | undefined {
  const colon = id.lastIndexOf(':')
  if (colon < 2 || id[0] !== '/') return undefined
  const digits = id.slice(colon + 1)
  if (digits === '-1') return { key: id.slice(0, colon), revision: REMOVED }
  if (!/^\d+$/.test(digits)) return undefined
  const revision = Number(digits)
  return Number.isSafeInteger(revision) ? { key: id.slice(0, colon), revision } : undefined
}

/**
 * Why a stream starts over with `event:reset` (its data is `{"reason": …}`).
 * `ambiguous-id`: the id names a key that was removed and written again
 * since, so the same id may name two events.
 */
export type ResetReason = 'not-in-backlog' | 'malformed-id' | 'server-restarted' | 'ambiguous-id'
