// KeyObserver over a hand-driven key: what a component's re-render with new
// options changes, what it costs, and when a view is a new one.

import { describe, expect, it } from 'vitest'
import { AtomKVError, KeyObserver } from '@atomkv/client'
import { fakeKey } from './fake-key.js'

describe('KeyObserver options', () => {
  it('a re-render with equal options neither runs select again nor makes a new view', () => {
    const key = fakeKey<string>()
    let selects = 0
    const select = (title: string) => (selects++, title.length)
    const isEqual = (a: number, b: number) => a === b
    const observer = new KeyObserver<string, number, string>(key.handle, { initialValue: 'none', select, isEqual, optimistic: false })
    const view = observer.get()
    expect(view.value).toBe(4)
    observer.setOptions({ initialValue: 'none', select, isEqual, optimistic: false })
    expect(observer.get()).toBe(view)
    expect(observer.get()).toBe(view)
    expect(selects).toBe(1)
  })

  it('a new initialValue shows at once for a missing key', () => {
    const key = fakeKey<string>()
    key.push({})
    const observer = new KeyObserver(key.handle, { initialValue: 'a' })
    expect(observer.get().value).toBe('a')
    observer.setOptions({ initialValue: 'b' })
    expect(observer.get().value).toBe('b')
  })

  it('a new isEqual takes over the comparison of slices', () => {
    const key = fakeKey<number[]>()
    key.push({ value: [1], revision: 0 })
    const select = (list: number[] | null) => list ?? []
    const observer = new KeyObserver(key.handle, { select })
    const first = observer.get()
    observer.setOptions({ select, isEqual: (a, b) => a.length === b.length })
    key.push({ value: [2], revision: 1 })
    expect(observer.get()).toBe(first)
  })

  it('a new optimistic default reaches the next write', async () => {
    const key = fakeKey<number>()
    const observer = new KeyObserver(key.handle, { optimistic: true })
    observer.setOptions({ optimistic: false })
    await observer.set(1)
    expect(key.writes).toEqual([[1, { optimistic: false }]])
  })

  it('changing only optimistic keeps the view: it shows the same thing', () => {
    const key = fakeKey<number>()
    key.push({ value: 1, revision: 0 })
    const observer = new KeyObserver(key.handle)
    const view = observer.get()
    observer.setOptions({ optimistic: false })
    expect(observer.get()).toBe(view)
  })
})

describe('KeyObserver views without select', () => {
  it('a new revision of an equal value is a new view with that revision', () => {
    const key = fakeKey<number>()
    key.push({ value: 5, revision: 0 })
    const observer = new KeyObserver(key.handle)
    const first = observer.get()
    key.push({ value: 5, revision: 1 })
    expect(observer.get()).not.toBe(first)
    expect(observer.get()).toMatchObject({ value: 5, revision: 1 })
  })

  it('an error, or a pending write of the same value, is a new view though value and revision stay', () => {
    const key = fakeKey<number>()
    key.push({ value: 5, revision: 0 })
    const observer = new KeyObserver(key.handle)
    const ready = observer.get() // a view to compare the next states with
    key.push({ value: 5, revision: 0, pending: true })
    const pending = observer.get()
    expect(pending).not.toBe(ready)
    expect(pending).toMatchObject({ value: 5, revision: 0, pending: true })
    const error = new AtomKVError('gone', { code: 'closed' })
    key.push({ value: 5, revision: 0, status: 'error', error })
    expect(observer.get()).toMatchObject({ value: 5, revision: 0, status: 'error', error, pending: false })
  })
})

describe('KeyObserver writes', () => {
  it('hands modify functions null for a missing key when there is no initialValue', async () => {
    const key = fakeKey<number>()
    key.push({})
    const seen: unknown[] = []
    await new KeyObserver(key.handle).modify((current) => (seen.push(current), 1))
    expect(seen).toEqual([null])
  })

  it('removes through its key', async () => {
    const key = fakeKey<number>()
    const { remove } = new KeyObserver(key.handle)
    expect(await remove({ revision: 3 })).toBe(true)
    expect(key.writes).toEqual([['removed', { revision: 3 }]])
  })
})
