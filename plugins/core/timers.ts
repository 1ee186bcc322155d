/**
 * Time and timers, injectable so that tests move time by hand (a @tapjs/clock
 * Clock, adapted in test/helpers/clock.ts) instead of waiting for the wall clock.
 */
export interface Timer { unref: () => unknown }

export interface Timers {
  /** Milliseconds since the epoch, as Date.now(). */
  now: () => number
  setTimeout: (fn: () => void, ms: number) => Timer
  clearTimeout: (timer: Timer | undefined) => void
  setInterval: (fn: () => void, ms: number) => Timer
  clearInterval: (timer: Timer | undefined) => void
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined)
}
