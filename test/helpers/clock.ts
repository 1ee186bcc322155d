import { Clock, type Timer as ClockTimer } from '@tapjs/clock'
import type { Timers } from '../../plugins/core/timers'

/**
 * A mock clock (@tapjs/clock) as the app's timers: the ticker, the heartbeat
 * and the chat rate see time move only when the test calls `clock.advance()`.
 * Only what is given these timers is affected; sockets, Redis and the wait
 * helpers keep the real ones.
 */
export function mockTimers (): { clock: Clock, timers: Timers } {
  const clock = new Clock()
  // Far from zero, as the wall clock is: slots and buckets start mid-way.
  clock.travel(1_700_000_000_000)
  const clear = (timer: unknown): void => { if (timer !== undefined) clock.clearTimeout(timer as ClockTimer) }
  const timers: Timers = {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: clear,
    setInterval: (fn, ms) => clock.setInterval(fn, ms),
    clearInterval: clear
  }
  return { clock, timers }
}
