import { describe, expectTypeOf, it } from 'vitest'
import { defineKeys, type PrefixItem } from '../src/index.js'

interface Todo {
  title: string
  done: boolean
}

const { useAtomKV, useAtomKVPrefix } = defineKeys<{
  '/counter': number
  '/todos/': Todo
  '/todos/settings': { sort: 'asc' | 'desc' }
}>()

describe('defineKeys', () => {
  it('types a declared key: value is the type or null (a missing key)', () => {
    const counter = useAtomKV('/counter')
    expectTypeOf(counter.value).toEqualTypeOf<number | null>()
    expectTypeOf(counter.set).parameter(0).toEqualTypeOf<number>()
    expectTypeOf(counter.modify).parameter(0).parameter(0).toEqualTypeOf<number | null>()
    expectTypeOf(counter.modify((n) => (n ?? 0) + 1)).resolves.toEqualTypeOf<number | undefined>()
    // Deleting needs no null in the schema.
    expectTypeOf(counter.remove).toBeCallableWith()
    expectTypeOf(counter.remove({ revision: 3 })).resolves.toEqualTypeOf<boolean>()
  })

  it('types every key under a declared prefix', () => {
    expectTypeOf(useAtomKV('/todos/42').value).toEqualTypeOf<Todo | null>()
    expectTypeOf(useAtomKV('/todos/settings').value).toEqualTypeOf<{ sort: 'asc' | 'desc' } | null>()
  })

  it('types a select slice', () => {
    const title = useAtomKV('/todos/1', { select: (todo) => todo?.title ?? '' })
    expectTypeOf(title.value).toEqualTypeOf<string>()
  })

  it('types prefix entries, including keys declared under the prefix', () => {
    const { entries } = useAtomKVPrefix('/todos/')
    expectTypeOf(entries).toEqualTypeOf<ReadonlyMap<string, PrefixItem<Todo | { sort: 'asc' | 'desc' }>>>()
  })

  it('rejects what the schema does not allow', () => {
    const counter = useAtomKV('/counter')
    // @ts-expect-error a counter holds numbers
    void counter.set('seven')
    // @ts-expect-error null is not a number: deleting is remove()
    void counter.set(null)
    // @ts-expect-error the modify function must return a number
    void counter.modify(() => 'seven')
    // @ts-expect-error the retry loop is `modify`
    void counter.update
    // @ts-expect-error an undeclared key
    useAtomKV('/elsewhere')
    // @ts-expect-error '/counter' is a key, not a prefix
    useAtomKVPrefix('/counter/')
    // @ts-expect-error initialValue has the key's type
    useAtomKV('/counter', { initialValue: 'zero' })
  })
})
