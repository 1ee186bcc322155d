/** What @fastify/rate-limit's store reports for a key: hits in the window and ms left of it. */
export interface WindowState { current: number, ttl: number }

export interface PublishBudget {
  /** Counts one publish (or upgrade) for `key` in a window of `windowMs`. */
  hit: (key: string, windowMs: number) => WindowState
  /** The state of `key` without counting. */
  peek: (key: string, windowMs: number) => WindowState
}

/**
 * Fixed-window counters per client address: the one publish budget that
 * @fastify/rate-limit counts POSTs and upgrades against (as its store) and
 * chat over /ws counts against too, so a WebSocket is not a way around the
 * limit. Addresses are what an attacker varies, so at most `capacity` windows
 * are kept, the oldest forgotten first (as the plugin's own LRU store does).
 */
export function publishBudget (capacity = 10_000, now: () => number = () => Date.now()): PublishBudget {
  const windows = new Map<string, { current: number, start: number }>()
  return {
    hit (key, windowMs) {
      const t = now()
      let window = windows.get(key)
      if (window === undefined || window.start + windowMs <= t) {
        windows.delete(key)
        if (windows.size >= capacity) windows.delete(windows.keys().next().value as string)
        window = { current: 0, start: t }
        windows.set(key, window)
      }
      window.current += 1
      return { current: window.current, ttl: window.start + windowMs - t }
    },
    peek (key, windowMs) {
      const t = now()
      const window = windows.get(key)
      if (window === undefined || window.start + windowMs <= t) return { current: 0, ttl: 0 }
      return { current: window.current, ttl: window.start + windowMs - t }
    }
  }
}
