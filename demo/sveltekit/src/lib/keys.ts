// The keys this app reads, and their types: one schema for the stores and the load.
import { defineKeys } from '@atomkv/svelte'

export type Schema = { '/sveltekit/counter': number }

export const COUNTER = '/sveltekit/counter'

export const { atomkv } = defineKeys<Schema>()
