import type { Log } from './backend'
import type { Publisher } from './publisher'
import { realTimers, type Timer, type Timers } from './timers'
import type { Severity } from '../../schemas/events'

export interface Ticker {
  start: () => void
  stop: () => void
}

export interface TickerOptions {
  intervalMs: number
  message: string
  location: string
  severity?: Severity
  /** When set, every tick repeats the one alert with this key instead of raising a new one. */
  key?: string
  /**
   * When set (and `key` is not), each tick first resolves the alert with this
   * key that is still open (the previous tick's), then raises a new alert with
   * it: an `alert` every interval as ever, yet one automatic alert open at a time.
   */
  supersede?: { key: string, resolve: (key: string) => Promise<void> }
  publisher: Pick<Publisher, 'publish'>
  log: Log
  /**
   * Whether this process publishes the alert of a slot (slot = floor(time / intervalMs)).
   * Every instance of a cluster asks for every slot and one gets it, so the
   * cluster publishes one alert per interval.
   */
  claim: (slot: number) => Promise<boolean>
  timers?: Pick<Timers, 'now' | 'setTimeout' | 'clearTimeout'>
}

/**
 * Publishes the automatic alert every intervalMs; 0 means never. Ticks fall on
 * multiples of intervalMs of the wall clock, so that the instances of a
 * cluster tick on the same slots and can claim them.
 */
export function createTicker ({ intervalMs, message, location, severity = 'info', key, supersede, publisher, log, claim, timers = realTimers }: TickerOptions): Ticker {
  let timer: Timer | undefined
  let lastSlot = -Infinity
  const alertKey = key ?? supersede?.key

  function tick (slot: number): void {
    claim(slot)
      .then(async (won) => {
        // Stopped while the claim was on its way: no alert once shutdown has begun.
        if (!won || timer === undefined) return
        if (key === undefined && supersede !== undefined) await supersede.resolve(supersede.key)
        await publisher.publish({ type: 'alert', source: 'ticker', message, location, severity, ...(alertKey === undefined ? {} : { key: alertKey }) })
      })
      .catch((err: unknown) => log.error({ err, slot }, 'automatic alert failed'))
  }

  function schedule (): void {
    const now = timers.now()
    // Never the same slot twice, even if the timer fired a little early by the
    // wall clock; slots missed while the event loop was blocked are skipped.
    const slot = Math.max(Math.floor(now / intervalMs) + 1, lastSlot + 1)
    timer = timers.setTimeout(() => {
      lastSlot = slot
      schedule()
      tick(slot)
    }, slot * intervalMs - now)
    timer.unref()
  }

  return {
    start () {
      if (intervalMs === 0 || timer !== undefined) return
      schedule()
    },
    stop () {
      timers.clearTimeout(timer)
      timer = undefined
    }
  }
}
