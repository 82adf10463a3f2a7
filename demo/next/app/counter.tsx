'use client'

import { useAtomKV, useAtomKVStatus } from '@atomkv/react'

/** A shared counter: the key `name`, live, and a button that adds one. */
export function Counter({ name }: { name: string }) {
  // Ready from the first render (the provider's initialData has the key): no
  // loading state, on the server or in the browser, so hydration matches.
  const { value, status, pending, modify } = useAtomKV<number>(name, { initialValue: 0 })
  const stream = useAtomKVStatus()
  if (status === 'loading') return <p>loading…</p>
  if (status === 'error') return <p>error</p>
  return (
    <>
      <p>
        {name}: <output id="counter">{value}</output>
      </p>
      {/* modify() is compare-and-swap with retries: clicks from several tabs all count. */}
      <button id="add" style={{ opacity: pending ? 0.6 : 1 }} onClick={() => void modify((n) => n + 1)}>
        +1
      </button>
      <p>
        stream: <span id="stream">{stream}</span>
      </p>
    </>
  )
}
