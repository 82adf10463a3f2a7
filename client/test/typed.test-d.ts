import { describe, expectTypeOf, it } from 'vitest'
import {
  createClient,
  typed,
  untyped,
  type AnyAtomKVClient,
  type AtomKVClient,
  type KeyState,
  type PrefixState,
  type SubscriptionEntry,
  type TypedAtomKVClient,
} from '../src/index.js'

interface Todo {
  title: string
  done: boolean
}

type Schema = { '/counter': number; '/todos/': Todo; '/todos/settings': { sort: 'asc' | 'desc' } }

const kv = createClient<Schema>({ url: 'http://127.0.0.1:8000' })

describe('createClient<Schema>', () => {
  it('types every key’s value', () => {
    expectTypeOf(kv).toEqualTypeOf<TypedAtomKVClient<Schema>>()
    expectTypeOf(kv.get('/counter')).resolves.toEqualTypeOf<[value: number | null, revision: number]>()
    expectTypeOf(kv.get('/todos/7')).resolves.toEqualTypeOf<[value: Todo | null, revision: number]>()
    expectTypeOf(kv.set('/counter', 3)).resolves.toEqualTypeOf<number>()
    expectTypeOf(kv.update('/todos/1', { title: 'milk', done: false }, 0)).resolves.toEqualTypeOf<boolean>()
    expectTypeOf(kv.modify('/counter', (n) => (n ?? 0) + 1)).resolves.toEqualTypeOf<[value: number, revision: number] | undefined>()
    expectTypeOf(kv.modify('/counter', (n, revision) => (revision < 0 ? 0 : n!))).resolves.toEqualTypeOf<
      [value: number, revision: number] | undefined
    >()
    expectTypeOf(kv.delete('/counter')).resolves.toEqualTypeOf<boolean>()
  })

  it('types subscriptions of a key and of a prefix', () => {
    expectTypeOf(kv.subscribe('/counter')).toExtend<AsyncIterable<SubscriptionEntry<number>>>()
    expectTypeOf(kv.subscribe('/todos/')).toExtend<AsyncIterable<SubscriptionEntry<Todo | { sort: 'asc' | 'desc' }>>>()
    kv.watch('/counter', (event) => {
      if (event.type === 'value') expectTypeOf(event.value).toEqualTypeOf<number>()
    })
  })

  it('types its cache', () => {
    expectTypeOf(kv.cache.key('/counter').get()).toEqualTypeOf<KeyState<number>>()
    expectTypeOf(kv.cache.prefix('/todos/').get()).toEqualTypeOf<PrefixState<Todo | { sort: 'asc' | 'desc' }>>()
    expectTypeOf(kv.cache.key('/counter').set).parameter(0).toEqualTypeOf<number>()
    expectTypeOf(kv.cache.set('/counter', 1, { optimistic: false })).resolves.toEqualTypeOf<number>()
  })

  it('rejects what the schema does not allow', () => {
    // @ts-expect-error a counter holds numbers
    void kv.set('/counter', 'x')
    // @ts-expect-error null is not a number: deleting is delete()
    void kv.set('/counter', null)
    // @ts-expect-error an undeclared key
    void kv.get('/elsewhere')
    // @ts-expect-error a todo has a title
    void kv.set('/todos/1', { done: true })
    // @ts-expect-error the modify function must return a number
    void kv.modify('/counter', () => 'x')
    // @ts-expect-error '/counter' is not a prefix
    kv.cache.prefix('/counter/')
    // @ts-expect-error the cache knows the schema too
    void kv.cache.key('/counter').set('x')
  })

  it('is still a client: the adapters take it, and typed()/untyped() switch views of one object', () => {
    expectTypeOf(kv).toExtend<AnyAtomKVClient>()
    const plain = createClient({ url: 'http://127.0.0.1:8000' })
    expectTypeOf(plain).toEqualTypeOf<AtomKVClient>()
    expectTypeOf(plain).toExtend<AnyAtomKVClient>()
    expectTypeOf(typed<Schema>(plain)).toEqualTypeOf<TypedAtomKVClient<Schema>>()
    expectTypeOf(untyped(kv)).toEqualTypeOf<AtomKVClient>()
    // Untyped, as before: any key, any value, a type argument for reads.
    expectTypeOf(plain.get<string>('/anything')).resolves.toEqualTypeOf<[value: string | null, revision: number]>()
    void plain.set('/counter', 'x')
  })
})
