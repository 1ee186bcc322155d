export interface FailureBudget {
  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryIn: (key: string) => number
  /** Counts one failure for `key`; true when this one used up its budget. */
  fail: (key: string) => boolean
}

/**
 * At most `max` failures per key in a fixed window of `windowMs` from its first
 * failure; past that the key waits for the window to end. Keys are addresses
 * an attacker can vary, so at most `capacity` are remembered, the oldest
 * window forgotten first.
 */
export function failureBudget (max: number, windowMs: number, capacity = 10_000, now: () => number = () => Date.now()): FailureBudget {
  const windows = new Map<string, { failures: number, endsAt: number }>()
  return {
    retryIn (key) {
      const window = windows.get(key)
      if (window === undefined) return 0
      const left = window.endsAt - now()
      if (left <= 0) {
        windows.delete(key)
        return 0
      }
      return window.failures >= max ? left : 0
    },
    fail (key) {
      const t = now()
      let window = windows.get(key)
      if (window === undefined || window.endsAt <= t) {
        windows.delete(key)
        if (windows.size >= capacity) windows.delete(windows.keys().next().value as string)
        window = { failures: 0, endsAt: t + windowMs }
        windows.set(key, window)
      }
      window.failures += 1
      return window.failures === max
    }
  }
}
