// KeyObserver over a hand-driven key: what a consumer sees, and when it hears of it.

import { describe, expect, it } from 'vitest'
import { AtomKVError, KeyObserver } from '@atomkv/client'
import { fakeKey } from './fake-key.js'

/** Counts a listener's calls. */
function counter() {
  const seen = { calls: 0, listener: () => void seen.calls++ }
  return seen
}

describe('KeyObserver', () => {
  it('shows initialValue while loading and while the key is missing; a view is frozen and stable until it changes', () => {
    const key = fakeKey<number>()
    const observer = new KeyObserver(key.handle, { initialValue: 42 })
    expect(observer.get()).toEqual({ value: 42, revision: -1, status: 'loading', error: undefined, pending: false })
    expect(observer.get()).toBe(observer.get())
    expect(Object.isFrozen(observer.get())).toBe(true)
    key.push({ value: null, revision: -1 })
    expect(observer.get()).toEqual({ value: 42, revision: -1, status: 'ready', error: undefined, pending: false })
    key.push({ value: 7, revision: 0 })
    expect(observer.get().value).toBe(7)
    key.push({ value: null, revision: -1 }) // deleted
    expect(observer.get().value).toBe(42)
    const plain = fakeKey()
    const untouched = new KeyObserver(plain.handle)
    expect(untouched.get().value).toBeNull() // no initialValue: null
    plain.push({ value: null, revision: -1 })
    expect(untouched.get().value).toBeNull()
  })

  it('hands modify functions initialValue for a missing key', async () => {
    const key = fakeKey<string[]>()
    key.push({ value: null, revision: -1 })
    const observer = new KeyObserver<string[], string[] | null, string[]>(key.handle, { initialValue: [] })
    expect(await observer.modify((list) => [...list, 'milk'])).toEqual(['milk'])
    key.push({ value: ['bread'], revision: 0 })
    expect(await observer.modify((list) => [...list, 'milk'])).toEqual(['bread', 'milk'])
  })

  it('shows pending, and tells listeners when only pending changed; with select too', () => {
    const key = fakeKey<{ title: string }>()
    const observer = new KeyObserver(key.handle, { select: (todo) => todo?.title })
    const seen = counter()
    const stop = observer.listen(seen.listener)
    key.push({ value: { title: 'milk' }, revision: 0 })
    const settled = observer.get()
    expect(settled.pending).toBe(false)
    key.push({ value: { title: 'milk' }, revision: 0, pending: true })
    expect(observer.get()).toMatchObject({ value: 'milk', pending: true })
    expect(observer.get()).not.toBe(settled)
    expect(seen.calls).toBe(2)
    const pending = observer.get()
    key.push({ value: { title: 'milk' }, revision: 0, pending: true }) // a new state, the same view
    expect(observer.get()).toBe(pending)
    expect(seen.calls).toBe(2)
    stop()
  })

  it('passes its optimistic default to writes; a call’s own option wins', async () => {
    const key = fakeKey<number>()
    key.push({ value: 1, revision: 0 })
    const observer = new KeyObserver(key.handle, { optimistic: false })
    await observer.set(2)
    await observer.set(3, { optimistic: true })
    await observer.modify((n) => (n ?? 0) + 1)
    expect(key.writes).toEqual([[2, { optimistic: false }], [3, { optimistic: true }], { optimistic: false }])
  })

  it('getInitial() is the loading view with initialValue, whatever the key holds: what server rendering shows', () => {
    const key = fakeKey<number>()
    key.push({ value: 5, revision: 0 })
    const observer = new KeyObserver(key.handle, { initialValue: 0, select: (n) => `n=${n}` })
    expect(observer.getInitial()).toEqual({ value: 'n=0', revision: -1, status: 'loading', error: undefined, pending: false })
    expect(observer.getInitial()).toBe(observer.getInitial())
    expect(observer.get().value).toBe('n=5')
  })

  it('without select, notifies at each new state and only then', () => {
    const key = fakeKey<number>()
    const observer = new KeyObserver(key.handle)
    const seen = counter()
    const stop = observer.listen(seen.listener)
    key.push({ value: 1, revision: 0 })
    key.push({ value: 2, revision: 1 })
    expect(seen.calls).toBe(2)
    expect(observer.get()).toMatchObject({ value: 2, revision: 1 })
    stop()
    expect(key.listeners.size).toBe(0)
  })

  it('with select, changes only when the slice, the status or the error does; revision is the last change’s', () => {
    const key = fakeKey<{ title: string; done: boolean }>()
    const observer = new KeyObserver(key.handle, { select: (todo) => todo?.title ?? '' })
    const seen = counter()
    const stop = observer.listen(seen.listener)
    key.push({ value: { title: 'milk', done: false }, revision: 0 })
    const milk = observer.get()
    expect(milk).toMatchObject({ value: 'milk', revision: 0, status: 'ready' })

    key.push({ value: { title: 'milk', done: true }, revision: 1 }) // same slice
    expect(observer.get()).toBe(milk)
    expect(seen.calls).toBe(1)

    key.push({ value: { title: 'bread', done: true }, revision: 2 })
    expect(observer.get()).toMatchObject({ value: 'bread', revision: 2 })
    expect(seen.calls).toBe(2)

    const error = new AtomKVError('closed', { code: 'closed' })
    key.push({ value: { title: 'bread', done: true }, revision: 2, status: 'error', error })
    expect(observer.get()).toMatchObject({ value: 'bread', status: 'error', error })
    expect(seen.calls).toBe(3)
    stop()
  })

  it('compares slices with isEqual', () => {
    const key = fakeKey<{ x: number; y: number; t: number }>()
    const observer = new KeyObserver(key.handle, {
      select: (p) => [p?.x, p?.y],
      isEqual: (a, b) => a[0] === b[0] && a[1] === b[1],
    })
    const seen = counter()
    const stop = observer.listen(seen.listener)
    key.push({ value: { x: 1, y: 1, t: 0 }, revision: 0 })
    key.push({ value: { x: 1, y: 1, t: 1 }, revision: 1 })
    expect(seen.calls).toBe(1)
    key.push({ value: { x: 2, y: 1, t: 2 }, revision: 2 })
    expect(seen.calls).toBe(2)
    expect(observer.get().value).toEqual([2, 1])
    stop()
  })

  it('keeps its view across setOptions that show the same thing (a component’s new inline select)', () => {
    const key = fakeKey<{ title: string }>()
    key.push({ value: { title: 'milk' }, revision: 0 })
    const observer = new KeyObserver(key.handle, { select: (todo) => todo?.title })
    const view = observer.get()
    observer.setOptions({ select: (todo) => todo?.title })
    expect(observer.get()).toBe(view)
    observer.setOptions({ select: (todo) => todo?.title.toUpperCase() })
    expect(observer.get().value).toBe('MILK')
  })

  it('tells every listener of a change', () => {
    const key = fakeKey<number>()
    const observer = new KeyObserver(key.handle)
    const [a, b] = [counter(), counter()]
    const stops = [observer.listen(a.listener), observer.listen(b.listener)]
    key.push({ value: 1, revision: 0 })
    expect([a.calls, b.calls]).toEqual([1, 1])
    for (const stop of stops) stop()
  })

  it('writes through its key, with bound methods', async () => {
    const key = fakeKey<number>()
    key.push({ value: 1, revision: 0 })
    const { set, modify } = new KeyObserver(key.handle)
    expect(await set(3)).toBe(7)
    expect(key.writes).toEqual([[3, { optimistic: undefined }]])
    expect(await modify((n) => (n ?? 0) + 1)).toBe(2)
  })
})
