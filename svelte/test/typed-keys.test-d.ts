import type { Readable } from 'svelte/store'
import { describe, expectTypeOf, it } from 'vitest'
import type { AtomKVClient } from '@atomkv/client'
import { defineKeys, type PrefixItem } from '../src/index.js'

interface Todo {
  title: string
  done: boolean
}

const { atomkv, atomkvPrefix } = defineKeys<{ '/counter': number; '/todos/': Todo }>()
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
  })
})
