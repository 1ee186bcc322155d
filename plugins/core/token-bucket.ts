/**
 * Token bucket: `rate` tokens a second, at most `burst` saved up. Returns whether one was taken.
 * `now` is in milliseconds; a clock that steps back refills nothing rather than taking tokens away.
 */
export function tokenBucket (rate: number, burst: number, now: () => number = () => performance.now()): () => boolean {
  let tokens = burst
  let last = now()
  return () => {
    const t = now()
    tokens = Math.min(burst, tokens + Math.max(0, t - last) * rate / 1000)
    last = t
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
}
