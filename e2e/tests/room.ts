// Each demo test in its own room (the demo's `?room=`), so tests that run
// side by side, or again with --repeat-each, never touch each other's keys.

import { test as base, type TestInfo } from '@playwright/test'
import { type DemoKeys, demoKeys } from '../../demo/src/shared.js'

export interface Room {
  readonly name: string
  /** The keys the demo's pages use in this room: the same function builds them. */
  readonly keys: DemoKeys
  /** A demo page's path in this room, such as `/react.html?room=…`. */
  page(path: string): string
}

/** The test's room: its file and title, and which repeat and retry this run is (so unique in a run). */
export function roomFor(info: TestInfo): Room {
  const slug = info.titlePath
    .join(' ')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
  const name = `${slug}-r${info.repeatEachIndex}-t${info.retry}`
  return {
    name,
    keys: demoKeys(name),
    page: (path) => `${path}?room=${name}`,
  }
}

/** Playwright's `test` with a `room` fixture. */
export const test = base.extend<{ room: Room }>({
  room: async ({}, use, info) => {
    await use(roomFor(info))
  },
})

export { expect } from '@playwright/test'
