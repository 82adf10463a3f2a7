import { afterEach, describe, expect, it, vi } from 'vitest'
import { RetryPolicy, STABLE_MS } from '../src/connection/retry.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** The delays of `count` failures in a row, with Math.random answering `random`. */
function delays(policy: RetryPolicy, count: number, random = 1 - Number.EPSILON): number[] {
  vi.spyOn(Math, 'random').mockReturnValue(random)
  return Array.from({ length: count }, () => Math.round(policy.next(null)))
}

describe('retry policy', () => {
  it('doubles from minDelayMs up to maxDelayMs, with full jitter below', () => {
    expect(delays(new RetryPolicy({ minDelayMs: 250, maxDelayMs: 10_000 }), 8)).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ])
    expect(delays(new RetryPolicy({ minDelayMs: 250, maxDelayMs: 10_000 }), 3, 0)).toEqual([0, 0, 0])
    vi.restoreAllMocks()
    const policy = new RetryPolicy({ minDelayMs: 100, maxDelayMs: 1000 })
    for (let n = 0; n < 50; n++) {
      const delay = policy.next(null)
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** n))
    }
  })

  it('starts over after a success, and after a stream that lived STABLE_MS', () => {
    const policy = new RetryPolicy({ minDelayMs: 100, maxDelayMs: 10_000 })
    expect(delays(policy, 3)).toEqual([100, 200, 400])
    policy.reset()
    expect(delays(policy, 1)).toEqual([100])
    expect(Math.round(policy.next(STABLE_MS - 1))).toBe(200)
    expect(Math.round(policy.next(STABLE_MS))).toBe(100)
  })

  it("takes the server's retry: as its base, within [minDelayMs, maxDelayMs]", () => {
    const policy = new RetryPolicy({ minDelayMs: 100, maxDelayMs: 5000 })
    policy.hint(1500)
    expect(delays(policy, 4)).toEqual([1500, 3000, 5000, 5000])
    policy.reset()
    policy.hint(0) // cannot make a client retry faster than its floor
    expect(delays(policy, 2)).toEqual([100, 200])
    policy.reset()
    policy.hint(60_000) // nor wait past its cap
    expect(delays(policy, 1)).toEqual([5000])
  })
})
