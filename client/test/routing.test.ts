// What the connection reads as a write: only a `message` event whose id is an
// AtomKV event id and whose data is JSON. The server sends nothing else with
// an id, so these cases are reachable only through the parser itself.

import { describe, expect, it } from 'vitest'
import { parseFrame } from '../src/connection/routing.js'

describe('parseFrame', () => {
  it('reads a message event as a write: its id, key, revision and value', () => {
    expect(parseFrame({ type: 'message', id: '/a/b:7', data: '{"x":1}' })).toEqual({
      id: '/a/b:7',
      key: '/a/b',
      revision: 7,
      value: { x: 1 },
    })
  })

  it('ignores other events, events without an id or with a foreign id, and data that is not JSON', () => {
    expect(parseFrame({ type: 'ready', id: '/a:1', data: '1' })).toBeUndefined()
    expect(parseFrame({ type: 'message', id: undefined, data: '1' })).toBeUndefined()
    expect(parseFrame({ type: 'message', id: 'no revision', data: '1' })).toBeUndefined()
    expect(parseFrame({ type: 'message', id: '/a:1', data: 'not JSON' })).toBeUndefined()
  })
})
