// Small statistics over lists of numbers. Every figure of the suite is a
// median over rounds, because the machine is shared and a single run can be
// hit by a neighbour at any moment; a median ignores one bad round.

/** The median; the mean of the two middle values for an even count. NaN for an empty list. */
export function median(values) {
  const xs = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const mid = Math.floor(xs.length / 2)
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

/** Nearest-rank percentile (p in 0..100): always one of the measured values, never an interpolation. */
export function percentile(values, p) {
  const xs = [...values].sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const rank = Math.ceil((p / 100) * xs.length)
  return xs[Math.min(xs.length - 1, Math.max(0, rank - 1))]
}

/**
 * ours / baseline, or null when the baseline is 0 (a ratio would be infinite
 * or NaN and say nothing; the table shows "–").
 */
export function ratio(ours, baseline) {
  if (!Number.isFinite(ours) || !Number.isFinite(baseline) || baseline === 0) return null
  return ours / baseline
}
