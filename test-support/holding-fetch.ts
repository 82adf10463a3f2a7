// A fetch that holds chosen requests back: a write in flight for as long as
// a test needs to look at what is shown meanwhile. The server stays real.

export type HoldingFetch = ReturnType<typeof holdingFetch>

/** Writes: `PUT`, `POST` and `DELETE`. */
const writes = (method: string) => method === 'PUT' || method === 'POST' || method === 'DELETE'

/**
 * A fetch that, after `hold()`, holds back the requests `matches` picks
 * (writes by default; streams never) until `release()`.
 */
export function holdingFetch(matches: (method: string, url: string) => boolean = writes) {
  let held = false
  let release: () => void = () => {}
  let gate = Promise.resolve()
  const state = {
    /** Requests held now. */
    waiting: 0,
    hold() {
      if (held) return
      held = true
      gate = new Promise((resolve) => (release = resolve))
    },
    release() {
      held = false
      release()
    },
    fetch: (async (input, init) => {
      const url = String(input)
      if (held && !url.includes('/.stream') && matches(init?.method ?? 'GET', url)) {
        state.waiting++
        await gate
        state.waiting--
      }
      return fetch(input, init)
    }) as typeof fetch,
  }
  return state
}
