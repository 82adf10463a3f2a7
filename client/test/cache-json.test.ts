// sameJSON: whether two stored values are the same JSON. The cache uses it to
// keep the objects a rebuild after a `reset` sends again, so a pair it calls
// equal wrongly would hide a change, and one it calls different re-renders.

import { describe, expect, it } from 'vitest'
import { sameJSON } from '../src/cache/json.js'

describe('sameJSON', () => {
  it('is true for equal JSON, nested or not, whatever the order of object keys', () => {
    const equal: [unknown, unknown][] = [
      [1, 1],
      ['a', 'a'],
      [null, null],
      [[], []],
      [{}, {}],
      [
        [1, [2, { x: 3 }]],
        [1, [2, { x: 3 }]],
      ],
      [
        { a: 1, b: [true, null], c: { d: 'e' } },
        { c: { d: 'e' }, b: [true, null], a: 1 },
      ],
    ]
    for (const [a, b] of equal) {
      expect(sameJSON(a, b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`).toBe(true)
    }
  })

  it('is false when the values differ in kind, length, keys or any element', () => {
    const different: [unknown, unknown][] = [
      // a scalar and an object (or null, whose typeof is 'object')
      [1, {}],
      [{}, 1],
      ['', []],
      [null, {}],
      [{}, null],
      [null, []],
      // an array and an object, even one whose keys look like its indexes
      [[], {}],
      [{}, []],
      [{ 0: 1 }, [1]],
      [[1], { 0: 1, length: 1 }],
      // arrays: length, then every element in order
      [[1], [1, 2]],
      [[1, 2], [1]],
      [[1], [2]],
      [
        [1, 2],
        [1, 3],
      ],
      [
        [1, 2],
        [2, 1],
      ],
      // objects: the same number of keys, the same keys, every value
      [{ a: 1 }, { a: 2 }],
      [{ a: 1 }, { a: 1, b: 2 }],
      [{ a: 1, b: 2 }, { a: 1 }],
      [
        { a: 1, b: 2 },
        { a: 1, b: 3 },
      ],
      [{ a: 1 }, { b: 1 }],
      [{ a: { b: [1] } }, { a: { b: [2] } }],
    ]
    for (const [a, b] of different) {
      expect(sameJSON(a, b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`).toBe(false)
      expect(sameJSON(b, a), `${JSON.stringify(b)} and ${JSON.stringify(a)}`).toBe(false)
    }
  })

  it('treats a key named __proto__ as an ordinary key, not as what every object inherits', () => {
    // JSON.parse makes "__proto__" an own key; the other object only inherits one.
    const withProto = JSON.parse('{"__proto__": {}}') as unknown
    expect(sameJSON(withProto, { other: {} })).toBe(false)
    expect(sameJSON(withProto, JSON.parse('{"__proto__": {}}'))).toBe(true)
    expect(sameJSON(withProto, JSON.parse('{"__proto__": {"x": 1}}'))).toBe(false)
  })
})
