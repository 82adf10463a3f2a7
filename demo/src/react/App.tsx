import { AtomKVProvider, useAtomKV, useAtomKVClient, useAtomKVPrefix, useAtomKVStatus } from '@atomkv/react'
import { useMemo, useState } from 'react'
import { client } from 'virtual:atomkv'
import {
  board,
  BOARD_ORDER,
  COUNTER,
  FIB,
  fibonacci,
  inRoom,
  type Note,
  NOTES,
  type Pair,
  visibleNotes,
} from '../shared.js'

export function App() {
  return (
    <AtomKVProvider client={client}>
      <header>
        <h1>AtomKV · React</h1>
        <StatusBadge />
        <nav>
          <a href={inRoom('./')}>home</a> · <a href={inRoom('./svelte.html')}>Svelte page</a>
        </nav>
      </header>
      <main>
        <Counter />
        <Fibonacci />
        <Board />
      </main>
    </AtomKVProvider>
  )
}

function StatusBadge() {
  const status = useAtomKVStatus()
  return (
    <span className={`badge ${status}`} data-testid="status">
      {status}
    </span>
  )
}

function Counter() {
  // initialValue: a missing counter is 0, for display and for modify.
  const { value, status, pending, modify } = useAtomKV<number>(COUNTER, { initialValue: 0 })
  // Each click shows at once (optimistic, marked pending) and stacks on the
  // clicks still in flight; the server's count takes over as they commit.
  const increment = () => modify((n) => n + 1, { maxAttempts: 100 }).catch((error) => console.warn(error))
  return (
    <section className="card">
      <h2>Shared counter</h2>
      <p className="big" data-testid="counter" data-pending={pending}>
        {status === 'ready' ? value : '…'}
      </p>
      <button data-testid="counter-inc" onClick={() => void increment()}>
        +1
      </button>
      <p className="hint">Clicks show at once, faded until the server has them.</p>
    </section>
  )
}

function Fibonacci() {
  const kv = useAtomKVClient()
  const fib = useMemo(() => fibonacci(kv), [kv])
  const { value } = useAtomKV<Pair>(FIB)
  return (
    <section className="card">
      <h2>Fibonacci</h2>
      <p className="big" data-testid="fib">
        {value ? `${value[0]}, ${value[1]}` : '—'}
      </p>
      <button data-testid="fib-init" onClick={() => void fib.init()}>
        init
      </button>
      <button data-testid="fib-inc" onClick={() => void fib.increment()}>
        next
      </button>
    </section>
  )
}

function Board() {
  const kv = useAtomKVClient()
  const actions = useMemo(() => board(kv), [kv])
  const { value: order } = useAtomKV<string[]>(BOARD_ORDER)
  const { entries } = useAtomKVPrefix<Note>(NOTES)
  const [draft, setDraft] = useState('')
  const notes = visibleNotes(order, entries)
  return (
    <section className="card wide">
      <h2>Board</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault()
          if (draft.trim()) void actions.add(draft.trim())
          setDraft('')
        }}
      >
        <input data-testid="note-input" value={draft} placeholder="a new note" onChange={(e) => setDraft(e.target.value)} />
        <button data-testid="note-add">add</button>
      </form>
      <ul className="notes" data-testid="notes">
        {notes.map(({ id, text }, index) => (
          <li key={id} data-testid="note" data-id={id}>
            <NoteText text={text} onSave={(next) => void actions.edit(id, next)} />
            <button title="up" data-testid="note-up" disabled={index === 0} onClick={() => void actions.move(id, -1)}>
              ↑
            </button>
            <button
              title="down"
              data-testid="note-down"
              disabled={index === notes.length - 1}
              onClick={() => void actions.move(id, 1)}
            >
              ↓
            </button>
            <button title="delete" data-testid="note-delete" onClick={() => void actions.remove(id)}>
              ✕
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}

/** Shows the note's text; while focused, keeps what is typed and saves on blur or Enter. */
function NoteText({ text, onSave }: { text: string; onSave: (text: string) => void }) {
  const [editing, setEditing] = useState<string | null>(null)
  const save = () => {
    if (editing !== null && editing !== text) onSave(editing)
    setEditing(null)
  }
  return (
    <input
      className="note-text"
      data-testid="note-text"
      value={editing ?? text}
      onFocus={() => setEditing(text)}
      onChange={(e) => setEditing(e.target.value)}
      onBlur={save}
      onKeyDown={(e) => e.key === 'Enter' && e.currentTarget.blur()}
    />
  )
}
