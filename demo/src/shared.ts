// What the React and Svelte pages share: the keys (so the two stay in sync),
// and the compare-and-swap steps of the board, written once.

import type { AtomKVClient } from '@atomkv/client'
import { isKey } from '@atomkv/client/protocol'

/** Every key a demo page uses. */
export interface DemoKeys {
  counter: string
  fib: string
  boardOrder: string
  /** A prefix: one key per note below it. */
  notes: string
}

/**
 * The keys of a room: without one, `/demo/counter` and the rest; in room `r`,
 * the same names below `/demo/rooms/r/`, so pages in different rooms (the
 * end-to-end tests give each test its own) never share a value. A room is
 * one key component: letters, digits, `-` and `_`.
 */
export function demoKeys(room?: string | null): DemoKeys {
  const base = room ? `/demo/rooms/${room}` : '/demo'
  if (room && (room.includes('/') || !isKey(`${base}/board-order`))) {
    throw new TypeError(`room "${room}" must be letters, digits, "-" and "_", and short enough for a key`)
  }
  return { counter: `${base}/counter`, fib: `${base}/fib`, boardOrder: `${base}/board-order`, notes: `${base}/notes/` }
}

/** The page's room, from its `?room=` parameter; `null` for none. */
export const ROOM: string | null =
  typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('room') || null

/** `href`, another demo page, in this page's room. */
export const inRoom = (href: string): string => (ROOM ? `${href}?room=${encodeURIComponent(ROOM)}` : href)

const keys = demoKeys(ROOM)
export const COUNTER = keys.counter
export const FIB = keys.fib
/** The board's note ids, in display order. */
export const BOARD_ORDER = keys.boardOrder
/** One key per note; a deleted note's key is deleted. */
export const NOTES = keys.notes

export interface Note {
  text: string
}

export type Pair = [number, number]

/** The original README's Fibonacci example, unchanged but for the client it is given. */
export function fibonacci(kv: Pick<AtomKVClient, 'get' | 'update'>) {
  return {
    async init() {
      // Acceptably fails if already initialized
      await kv.update(FIB, [0, 1], 0)
    },
    async increment() {
      for (;;) {
        const [pair, revision] = await kv.get<Pair>(FIB)
        const [a, b] = pair ?? [0, 1]
        const next: Pair = [b, a + b]
        if (await kv.update(FIB, next, revision + 1)) {
          return next // success
        }
      }
    },
  }
}

export const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8)

/** The board's edits: each a compare-and-swap loop (`modify`) on the key it changes. */
export function board(kv: AtomKVClient) {
  return {
    async add(text: string) {
      const id = newId()
      await kv.set(NOTES + id, { text } satisfies Note)
      await kv.modify<string[]>(BOARD_ORDER, (order) => [...(order ?? []), id])
    },
    edit(id: string, text: string) {
      return kv.set(NOTES + id, { text } satisfies Note)
    },
    async remove(id: string) {
      await kv.modify<string[]>(BOARD_ORDER, (order) => (order ?? []).filter((other) => other !== id))
      await kv.delete(NOTES + id)
    },
    /** Moves `id` by `by` places; a move past either end does nothing. */
    move(id: string, by: number) {
      return kv.modify<string[]>(BOARD_ORDER, (order) => {
        const list = [...(order ?? [])]
        const from = list.indexOf(id)
        const to = from + by
        if (from < 0 || to < 0 || to >= list.length) return undefined // abort: nothing to change
        list.splice(from, 1)
        list.splice(to, 0, id)
        return list
      })
    },
  }
}

/** The notes to show: those in the order key that exist (an order can name a note being added or deleted). */
export function visibleNotes(
  order: readonly string[] | null,
  notes: ReadonlyMap<string, { value: Note }>,
): { id: string; text: string }[] {
  const shown: { id: string; text: string }[] = []
  for (const id of order ?? []) {
    const note = notes.get(NOTES + id)?.value
    if (note) shown.push({ id, text: note.text })
  }
  return shown
}
