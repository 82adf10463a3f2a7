import { createClient, prefetch } from '@atomkv/client'
import { AtomKVProvider } from '@atomkv/react'
import { connection } from 'next/server'
import { browserUrl, serverUrl } from './atomkv'
import { Counter } from './counter'

const COUNTER = '/next/counter'

// A server component: it reads the key for this request, and the client
// component below renders it at once, in the HTML and then in the browser.
export default async function Page() {
  // Render at request time: the value is the service's now, never one frozen
  // at build time (and the build needs no service).
  await connection()
  // A client per request: nothing read for one visitor stays for the next.
  // It never subscribes, so it opens no stream: one GET per key, then closed.
  const client = createClient({ url: serverUrl() })
  const data = await prefetch(client, [COUNTER]).finally(() => client.close())
  return (
    <main>
      <h1>AtomKV on Next.js</h1>
      {/* The browser's client starts with `data` in its cache: it reads nothing again, its stream brings what changes. */}
      <AtomKVProvider url={browserUrl()} initialData={data}>
        <Counter name={COUNTER} />
      </AtomKVProvider>
    </main>
  )
}
