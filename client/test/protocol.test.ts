// The rules both sides share, on their own.

import { describe, expect, it } from 'vitest'
import { coveringPaths, formatEventId, parseEventId } from '../src/protocol/index.js'

describe('event ids', () => {
  it('name a key and a revision, split at the last colon', () => {
    expect(formatEventId('/a/b', 7)).toBe('/a/b:7')
    expect(parseEventId('/a/b:7')).toEqual({ key: '/a/b', revision: 7 })
    expect(parseEventId(formatEventId('/zoë/1', 0))).toEqual({ key: '/zoë/1', revision: 0 })
  })

  it('name a removal with revision -1', () => {
    expect(parseEventId('/a/b:-1')).toEqual({ key: '/a/b', revision: -1 })
  })

  it('refuse what is not an event id', () => {
    for (const id of ['', ':1', '/a', '/a:', '/a:x', '/a:1.5', '/a:-2', '/a:-0', '/a:+1', 'a:1', '/a:1e3', `/a:${2 ** 60}`]) {
      expect(parseEventId(id), id).toBeUndefined()
    }
  })
})

describe('covering paths', () => {
  it('are the key, then each prefix above it, nearest first', () => {
    expect(coveringPaths('/a/b/c')).toEqual(['/a/b/c', '/a/b/', '/a/'])
    expect(coveringPaths('/a')).toEqual(['/a'])
  })
})
