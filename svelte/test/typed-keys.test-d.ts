import type { Readable } from 'svelte/store'
import { describe, expectTypeOf, it } from 'vitest'
import { createClient, type AtomKVClient } from '@atomkv/client'
import { atomkv as untypedStore, defineKeys, setAtomKVClient, type PrefixItem } from '../src/index.js'

interface Todo {
  title: string
  done: boolean
}

type Schema = { '/counter': number; '/todos/': Todo }
const { atomkv, atomkvPrefix } = defineKeys<Schema>()
declare const client: AtomKVClient

describe('defineKeys', () => {
  it('types a declared key: $store is the type or null (a missing key)', () => {
    const counter = atomkv('/counter', { client })
    expectTypeOf(counter).toExtend<Readable<number | null>>()
    expectTypeOf(counter.current).toEqualTypeOf<number | null>()
    expectTypeOf(counter.set).parameter(0).toEqualTypeOf<number>()
    expectTypeOf(counter.modify((n) => (n ?? 0) + 1)).resolves.toEqualTypeOf<number | undefined>()
    expectTypeOf(counter.update).toEqualTypeOf(counter.modify)
    // Deleting needs no null in the schema.
    expectTypeOf(counter.remove()).resolves.toEqualTypeOf<boolean>()
    expectTypeOf(atomkv('/todos/7', { client }).current).toEqualTypeOf<Todo | null>()
  })

  it('narrows $store to the type with an initialValue, which also stands for a missing key', () => {
    const counter = atomkv('/counter', { client, initialValue: 0 })
    expectTypeOf(counter).toExtend<Readable<number>>()
    expectTypeOf(counter.current).toEqualTypeOf<number>()
    expectTypeOf(counter.pending.current).toEqualTypeOf<boolean>()
    expectTypeOf(counter.modify).parameter(0).parameter(0).toEqualTypeOf<number>()
    expectTypeOf(counter.update((n) => n + 1, { optimistic: false })).resolves.toEqualTypeOf<number | undefined>()
    expectTypeOf(counter.set).toBeCallableWith(3, { optimistic: false })
    // Untyped stores narrow the same way.
    expectTypeOf(untypedStore('/counter', { client, initialValue: 0 }).current).toEqualTypeOf<number>()
    expectTypeOf(untypedStore<string[]>('/list', { client, initialValue: [] }).current).toEqualTypeOf<string[]>()
    expectTypeOf(untypedStore<number>('/counter', { client }).current).toEqualTypeOf<number | null>()
  })

  it('shares the schema with the client, which the stores and the context take', () => {
    const typedClient = createClient<Schema>({ url: 'http://127.0.0.1:8000' })
    expectTypeOf(atomkv('/counter', { client: typedClient }).current).toEqualTypeOf<number | null>()
    expectTypeOf(setAtomKVClient(typedClient)).toEqualTypeOf(typedClient)
    // @ts-expect-error the client knows the schema too
    void typedClient.set('/counter', 'x')
  })

  it('types prefix entries', () => {
    const todos = atomkvPrefix('/todos/', { client })
    expectTypeOf(todos.current).toEqualTypeOf<ReadonlyMap<string, PrefixItem<Todo>>>()
  })

  it('rejects what the schema does not allow', () => {
    const counter = atomkv('/counter', { client })
    // @ts-expect-error a counter holds numbers
    void counter.set('seven')
    // @ts-expect-error null is not a number: deleting is remove()
    void counter.set(null)
    // @ts-expect-error the modify function must return a number
    void counter.modify(() => 'seven')
    // @ts-expect-error an undeclared key
    atomkv('/elsewhere', { client })
    // @ts-expect-error initialValue has the key's type
    atomkv('/counter', { client, initialValue: 'zero' })
    // @ts-expect-error without an initialValue, current may be null
    void counter.modify((n) => n + 1)
  })
})
