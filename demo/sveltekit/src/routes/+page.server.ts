import { prefetch } from '@atomkv/client'
import { COUNTER } from '$lib/keys'
import { requestClient } from '$lib/server/atomkv'
import type { PageServerLoad } from './$types'

// Read on the server, for the first render: `{ [key]: [value, revision] }`, plain JSON that
// SvelteKit sends to the browser with the page, so the browser does not read the keys again.
export const load: PageServerLoad = async ({ fetch }) => ({
  atomkv: await prefetch(requestClient(fetch), [COUNTER]),
})
