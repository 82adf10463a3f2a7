// What a key shows while this client's writes are in flight, stepped by hand
// (optimistic.ts is pure: the confirmed states and the server's answers are
// the test's). Orders a real server gives only by chance: the stream ahead of
// or behind the answers, a stream that skips revisions, a restart.

import { describe, expect, it } from 'vitest'
import { Optimistic } from '../src/cache/optimistic.js'
import { LOADING_KEY, type KeyState } from '../src/cache/types.js'

const ready = (value: unknown, revision: number): KeyState =>
  Object.freeze({ value, revision, status: 'ready', error: undefined, pending: false })

const plusOne = (n: unknown) => ((n as number | null) ?? 0) + 1

/** The value and revision shown for `confirmed`. */
const shown = (optimistic: Optimistic, confirmed: KeyState) => {
  const { value, revision, pending } = optimistic.show(confirmed)
  return { value, revision, pending }
}

describe('optimistic values', () => {
  it('a result that already holds the writes after it hides them until they are answered', () => {
    // `modify()` sends two waiting +1s as one write and answers the first with
    // the result of both: the second must not show on top of it (no 8).
    const optimistic = new Optimistic()
    const confirmed = ready(5, 0)
    const first = optimistic.add(plusOne)
    const second = optimistic.add(plusOne)
    expect(shown(optimistic, confirmed)).toEqual({ value: 7, revision: 0, pending: true })
    optimistic.settle(first, { value: 7, revision: 1 }, confirmed)
    expect(shown(optimistic, confirmed)).toEqual({ value: 7, revision: 1, pending: true })
    optimistic.settle(second, { value: 7, revision: 1 }, confirmed)
    expect(shown(optimistic, confirmed)).toEqual({ value: 7, revision: 1, pending: false })
  })

  it('keeps the newest committed value whichever answer comes first', () => {
    const inOrder = new Optimistic()
    const confirmed = ready(0, 0)
    const [a, b] = [inOrder.add(() => 'a'), inOrder.add(() => 'b')]
    inOrder.settle(a, { value: 'a', revision: 1 }, confirmed)
    inOrder.settle(b, { value: 'b', revision: 2 }, confirmed)
    expect(shown(inOrder, confirmed)).toEqual({ value: 'b', revision: 2, pending: false })

    // The later write's answer overtakes the earlier one's: no flicker back to `a`.
    const overtaken = new Optimistic()
    const [c, d] = [overtaken.add(() => 'a'), overtaken.add(() => 'b')]
    overtaken.settle(d, { value: 'b', revision: 2 }, confirmed)
    overtaken.settle(c, { value: 'a', revision: 1 }, confirmed)
    expect(shown(overtaken, confirmed)).toEqual({ value: 'b', revision: 2, pending: false })
  })

  it('forgets a committed value once the stream brought it: a restarted server’s lower revisions show', () => {
    const optimistic = new Optimistic()
    const write = optimistic.add(() => 'mine')
    optimistic.settle(write, { value: 'mine', revision: 2 }, ready('old', 1))
    expect(shown(optimistic, ready('old', 1))).toEqual({ value: 'mine', revision: 2, pending: false })
    optimistic.confirmed(ready('old', 1), ready('mine', 2)) // the echo
    // The server restarted without its data; another client wrote the key anew.
    optimistic.confirmed(ready('mine', 2), ready('fresh', 0))
    expect(optimistic.show(ready('fresh', 0))).toEqual(ready('fresh', 0))
  })

  it('a commit the stream already brought is not held over a restarted server’s values', () => {
    const optimistic = new Optimistic()
    const write = optimistic.add(() => 'mine')
    optimistic.confirmed(ready('old', 1), ready('mine', 2)) // the stream first
    optimistic.settle(write, { value: 'mine', revision: 2 }, ready('mine', 2))
    optimistic.confirmed(ready('mine', 2), ready('fresh', 0))
    expect(optimistic.show(ready('fresh', 0))).toEqual(ready('fresh', 0))
  })

  it('the stream bringing this client’s writes one after the other shows each once', () => {
    const optimistic = new Optimistic()
    optimistic.add(plusOne)
    optimistic.add(plusOne)
    optimistic.confirmed(ready(5, 0), ready(6, 1))
    expect(shown(optimistic, ready(6, 1))).toEqual({ value: 7, revision: 1, pending: true })
    optimistic.confirmed(ready(6, 1), ready(7, 2))
    expect(shown(optimistic, ready(7, 2))).toEqual({ value: 7, revision: 2, pending: true })
  })

  it('a write skipped for display (it aborts) does not stop the next from being recognised in the stream', () => {
    const optimistic = new Optimistic()
    optimistic.add(() => undefined)
    optimistic.add(plusOne)
    optimistic.confirmed(ready(5, 0), ready(6, 1))
    expect(shown(optimistic, ready(6, 1))).toEqual({ value: 6, revision: 1, pending: true })
  })

  it('a value two revisions on is not taken for this client’s write: others wrote in between', () => {
    const optimistic = new Optimistic()
    optimistic.add(plusOne)
    optimistic.confirmed(ready(5, 0), ready(6, 2))
    expect(shown(optimistic, ready(6, 2))).toEqual({ value: 7, revision: 2, pending: true })
  })

  it('the first value a loading key gets is not taken for this client’s write: it may be another’s', () => {
    // The key held 1 before this client's +1 reached the server: expect 2.
    const optimistic = new Optimistic()
    optimistic.add(plusOne)
    expect(shown(optimistic, LOADING_KEY)).toEqual({ value: null, revision: -1, pending: true })
    optimistic.confirmed(LOADING_KEY, ready(1, 0))
    expect(shown(optimistic, ready(1, 0))).toEqual({ value: 2, revision: 0, pending: true })
  })
})
