// Optimistic values: what a key shows while this client's own writes are in
// flight. There is one source of truth, the confirmed state (the stream's,
// and the server's answers to this client's writes); what is shown is
// derived from it: the pending functions folded over it, in the order they
// were made. Nothing here is ever sent: a write's real outcome comes from
// `client.modify()`, which runs its function on server values only.

import { sameJSON } from './json.js'
import type { KeyState } from './types.js'

/** A write in flight: `fn` gives the value it expects, from the value before it. */
export interface PendingWrite {
  readonly fn: (current: unknown, revision: number) => unknown
  /**
   * The stream brought a value that is this write's result (with those before
   * it): most likely the write itself, before the server's answer to it. It
   * no longer shows (the confirmed value holds it), but is pending until answered.
   */
  landed: boolean
}

export class Optimistic {
  readonly #pending: PendingWrite[] = []
  // The newest value this client wrote, as the server answered it, until the
  // stream brings that revision. Without it, a write confirmed before the
  // stream caught up would show the older value in between: a flicker back.
  #written: { value: unknown; revision: number } | undefined

  /** Starts showing `fn`'s expected value, after those already pending. */
  add(fn: PendingWrite['fn']): PendingWrite {
    const write = { fn, landed: false }
    this.#pending.push(write)
    return write
  }

  /**
   * `write` is over: committed as `committed` (what the server stores, at its
   * revision), or failed or aborted (nothing: the confirmed value shows again).
   */
  settle(write: PendingWrite, committed: { value: unknown; revision: number } | undefined, confirmed: KeyState): void {
    // `modify()` sends the calls waiting on a key as one write, and resolves
    // them one after another with its result: the writes after this one that
    // the result already holds must not show on top of it meanwhile.
    if (committed && confirmed.status === 'ready') this.#land(this.#base(confirmed), committed.value)
    const index = this.#pending.indexOf(write)
    if (index >= 0) this.#pending.splice(index, 1)
    if (!committed || confirmed.status !== 'ready' || committed.revision <= confirmed.revision) return
    if (!this.#written || committed.revision > this.#written.revision) this.#written = committed
  }

  /**
   * The confirmed state goes from `previous` to `next`: forgets a written
   * value the stream has caught up with, or made moot, and marks the pending
   * writes whose result the stream just brought.
   */
  confirmed(previous: KeyState, next: KeyState): void {
    const written = this.#written
    const base = this.#base(previous)
    // A removal (revision -1) or a failed or rebuilding subscription makes
    // revisions incomparable: trust the stream.
    if (written && (next.status !== 'ready' || next.revision === -1 || next.revision >= written.revision)) {
      this.#written = undefined
    }
    // The stream often brings a write before the server's answer to it does.
    // Folded again over its own result, it would show twice (6, then 7, then
    // 6 for one +1): the next revision holding what the first pending writes
    // expect is taken to be them. Were it another client's equal write, ours
    // would show again once answered; meanwhile it shows the same value.
    if (previous.status !== 'ready' || next.status !== 'ready' || next.revision !== base.revision + 1) return
    this.#land(base, next.value)
  }

  /**
   * Marks the first pending writes as landed if, applied in order to `base`,
   * they make `value` (a value the server stored): it holds them already.
   */
  #land(base: { value: unknown; revision: number }, value: unknown): void {
    let current = base.value
    const walked: PendingWrite[] = []
    for (const write of this.#pending) {
      if (write.landed) continue
      walked.push(write)
      const result = attempt(write.fn, current, base.revision)
      if (result === undefined) continue
      current = result
      if (sameJSON(asStored(current), value)) {
        for (const landed of walked) landed.landed = true
        return
      }
    }
  }

  /**
   * What to show for `confirmed`: the pending functions folded over the
   * newest server value in order, `pending` while any is in flight. A function
   * that throws, returns `undefined` (it would abort) or a promise is skipped
   * for display. Returns `confirmed` itself when nothing is in flight.
   */
  show(confirmed: KeyState): KeyState {
    if (this.#pending.length === 0 && !this.#written) return confirmed
    const { revision } = this.#base(confirmed)
    let { value } = this.#base(confirmed)
    // While loading there is nothing to build on: the value is not known yet.
    if (confirmed.status !== 'loading') {
      for (const { fn, landed } of this.#pending) {
        if (landed) continue
        // Each on what the one before it made, all with the revision they
        // build on: as `modify()` runs the functions it sends as one write.
        const next = attempt(fn, value, revision)
        if (next !== undefined) value = next
      }
    }
    return { value, revision, status: confirmed.status, error: confirmed.error, pending: this.#pending.length > 0 }
  }

  /** The newest server value: the confirmed one, or this client's write the stream has not brought yet. */
  #base(confirmed: KeyState): { value: unknown; revision: number } {
    const written = this.#written
    return written && confirmed.status === 'ready' && written.revision > confirmed.revision ? written : confirmed
  }
}

/** `fn`'s result for display; `undefined` when it throws, aborts or is async. */
function attempt(fn: PendingWrite['fn'], value: unknown, revision: number): unknown {
  let next: unknown
  try {
    next = fn(value, revision)
  } catch {
    return undefined
  }
  return isThenable(next) ? undefined : next
}

/** A value as the server would store it (its JSON); `undefined` if it has none. */
function asStored(value: unknown): unknown {
  try {
    const json = JSON.stringify(value)
    return json === undefined ? undefined : (JSON.parse(json) as unknown)
  } catch {
    return undefined
  }
}

/** Two states that show the same thing: a listener need not hear of the second. */
export function sameState(a: KeyState, b: KeyState): boolean {
  return (
    Object.is(a.value, b.value) &&
    a.revision === b.revision &&
    a.status === b.status &&
    a.error === b.error &&
    a.pending === b.pending
  )
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
