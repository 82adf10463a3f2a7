// Event ids. Every write event carries `id:<key>:<revision>`, exactly as the
// original AtomKV; keys cannot contain `:`, so the last `:` splits it.

export function formatEventId(key: string, revision: number): string {
  return `${key}:${revision}`
}

/** The key and revision an event id names; `undefined` when it is not a write's id. */
export function parseEventId(id: string): { key: string; revision: number } | undefined {
  const colon = id.lastIndexOf(':')
  if (colon < 2 || id[0] !== '/') return undefined
  const digits = id.slice(colon + 1)
  if (!/^\d+$/.test(digits)) return undefined
  const revision = Number(digits)
  return Number.isSafeInteger(revision) ? { key: id.slice(0, colon), revision } : undefined
}

/** Why a stream starts over with `event:reset` (its data is `{"reason": …}`). */
export type ResetReason = 'not-in-backlog' | 'malformed-id' | 'server-restarted'
