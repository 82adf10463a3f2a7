// Who listens to what on one connection (membership.ts), as a unit: paths
// come and go with their listeners, and the stream's bounds (paths per stream,
// characters of URL) are kept exactly, freed when a path goes.

import { describe, expect, it } from 'vitest'
import type { ListenerSpec } from '../src/listener.js'
import { Membership, type StreamLimits } from '../src/connection/membership.js'

const spec = (path: string): ListenerSpec => ({ path, initial: false, fullResync: true, emit: () => {} })

/** Each path costs its own length in URL characters. */
const limits = (maxPaths: number, maxQueryLength: number): StreamLimits => ({
  maxPaths,
  maxQueryLength,
  queryLength: (path) => path.length,
})

/** A listener that has had its snapshot: live, and steady. */
function steady(members: Membership, path: string) {
  const listener = members.add(spec(path))
  listener.startSnapshot()
  listener.ready()
  return listener
}

describe('membership', () => {
  it('drops a path with its last listener, once', () => {
    const members = new Membership()
    const a = members.add(spec('/a'))
    const b = members.add(spec('/a'))
    expect(members.size).toBe(1)
    expect(members.delete(a)).toBe(false) // b still listens
    expect(members.delete(b)).toBe(true)
    expect(members.size).toBe(0)
    expect([...members.all()]).toEqual([])
    expect(members.delete(b)).toBe(false) // already gone: the stream has nothing more to drop
  })

  it('gives back the URL characters of a path that goes', () => {
    const members = new Membership(limits(100, 5))
    const a = members.add(spec('/aa'))
    expect(() => members.add(spec('/bb'))).toThrow(expect.objectContaining({ code: 'too-many-subscriptions', key: '/bb' }))
    members.delete(a)
    members.add(spec('/bb'))
    members.add(spec('/c'))
    expect(members.size).toBe(2)
  })

  it('admits a path that fills the URL exactly, and names the limit when one would pass it', () => {
    const members = new Membership(limits(100, 5))
    members.add(spec('/ab'))
    members.add(spec('/c'))
    expect(members.size).toBe(2)
    expect(() => members.add(spec('/d'))).toThrow(
      "/d: the client's subscriptions would pass 5 characters of stream URL; subscribe to a common prefix instead",
    )
  })

  it('takes a server limit only when it is a positive integer, and none without limits', () => {
    const members = new Membership(limits(2, 1000))
    members.learnLimit('0')
    members.learnLimit('-3')
    members.learnLimit('1.5')
    members.learnLimit('many')
    members.learnLimit(null)
    members.add(spec('/a'))
    members.add(spec('/b'))
    expect(() => members.add(spec('/c'))).toThrow(expect.objectContaining({ code: 'too-many-subscriptions' }))
    members.learnLimit('3')
    members.add(spec('/c'))
    expect(members.size).toBe(3)

    const unbounded = new Membership()
    expect(() => unbounded.learnLimit('1')).not.toThrow()
    unbounded.add(spec('/a'))
    unbounded.add(spec('/b'))
    expect(unbounded.size).toBe(2)
  })

  it('finds a steady sibling to copy, never the newcomer itself nor one still on its snapshot', () => {
    const members = new Membership()
    const alone = steady(members, '/a')
    expect(members.sibling(alone)).toBeUndefined()

    const snapshotting = members.add(spec('/b'))
    snapshotting.startSnapshot()
    const newcomer = members.add(spec('/b'))
    expect(members.sibling(newcomer)).toBeUndefined()

    const settled = steady(members, '/c')
    const next = members.add(spec('/c'))
    expect(members.sibling(next)).toBe(settled)
  })

  it('matches exactly the paths listened to', () => {
    const members = new Membership()
    members.add(spec('/a'))
    members.add(spec('/b/'))
    expect(members.matches(new Set(['/a', '/b/']))).toBe(true)
    expect(members.matches(new Set(['/a']))).toBe(false)
    expect(members.matches(new Set(['/a', '/b/', '/c']))).toBe(false)
    expect(members.matches(new Set(['/a', '/c']))).toBe(false)
  })
})
