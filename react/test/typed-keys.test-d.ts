import { describe, expectTypeOf, it } from 'vitest'
import { createClient } from '@atomkv/client'
import { AtomKVProvider, defineKeys, useAtomKV as useUntyped, type PrefixItem } from '../src/index.js'

interface Todo {
  title: string
  done: boolean
}

type Schema = {
  '/counter': number
  '/todos/': Todo
  '/todos/settings': { sort: 'asc' | 'desc' }
}

const { useAtomKV, useAtomKVPrefix } = defineKeys<Schema>()

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

  it('narrows value to the type with an initialValue, which also stands for a missing key', () => {
    const counter = useAtomKV('/counter', { initialValue: 0 })
    expectTypeOf(counter.value).toEqualTypeOf<number>()
    expectTypeOf(counter.pending).toEqualTypeOf<boolean>()
    // modify gets the initialValue for a missing key: no `?? 0`.
    expectTypeOf(counter.modify).parameter(0).parameter(0).toEqualTypeOf<number>()
    expectTypeOf(counter.modify((n) => n + 1, { optimistic: false })).resolves.toEqualTypeOf<number | undefined>()
    expectTypeOf(counter.set).toBeCallableWith(1, { optimistic: false })
    const title = useAtomKV('/todos/1', { initialValue: { title: '', done: false }, select: (todo) => todo.title })
    expectTypeOf(title.value).toEqualTypeOf<string>()
  })

  it('narrows untyped hooks the same way', () => {
    expectTypeOf(useUntyped('/counter', { initialValue: 0 }).value).toEqualTypeOf<number>()
    expectTypeOf(useUntyped<number>('/counter', { initialValue: 0 }).value).toEqualTypeOf<number>()
    expectTypeOf(useUntyped<number>('/counter').value).toEqualTypeOf<number | null>()
    expectTypeOf(useUntyped<number>('/counter', { optimistic: false }).value).toEqualTypeOf<number | null>()
    expectTypeOf(useUntyped<string[]>('/list', { initialValue: [] }).modify).parameter(0).parameter(0).toEqualTypeOf<string[]>()
  })

  it('shares the schema with the client, which the provider takes', () => {
    const client = createClient<Schema>({ url: 'http://127.0.0.1:8000' })
    expectTypeOf(AtomKVProvider).toBeCallableWith({ client })
    // @ts-expect-error the client knows the schema too
    void client.set('/counter', 'x')
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
    // @ts-expect-error without an initialValue, current may be null
    void counter.modify((n) => n + 1)
  })
})
