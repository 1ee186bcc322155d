import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Publisher } from './publisher'
import { createRedisClaim } from './redis'

export interface Ticker {
  start: () => void
  stop: () => void
}

export interface TickerOptions {
  intervalMs: number
  message: string
  location: string
  publisher: Pick<Publisher, 'publish'>
  log: FastifyBaseLogger
  /**
   * Whether this process publishes the alert of a slot (slot = floor(time / intervalMs)).
   * Every instance of a cluster asks for every slot and one gets it, so the
   * cluster publishes one alert per interval. Alone, a process always gets it.
   */
  claim?: (slot: number) => Promise<boolean>
}

export const claimAlways = async (): Promise<boolean> => true

/**
 * Publishes the automatic alert every intervalMs; 0 means never. Ticks fall on
 * multiples of intervalMs of the wall clock, so that the instances of a
 * cluster tick on the same slots and can claim them.
 */
export function createTicker ({ intervalMs, message, location, publisher, log, claim = claimAlways }: TickerOptions): Ticker {
  let timer: NodeJS.Timeout | undefined
  let lastSlot = -Infinity

  function tick (slot: number): void {
    claim(slot)
      .then(async (won) => {
        // Stopped while the claim was on its way: no alert once shutdown has begun.
        if (won && timer !== undefined) await publisher.publish({ type: 'alert', message, location })
      })
      .catch((err: unknown) => log.error({ err, slot }, 'automatic alert failed'))
  }

  function schedule (): void {
    const now = Date.now()
    // Never the same slot twice, even if the timer fired a little early by the
    // wall clock; slots missed while the event loop was blocked are skipped.
    const slot = Math.max(Math.floor(now / intervalMs) + 1, lastSlot + 1)
    timer = setTimeout(() => {
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
      clearTimeout(timer)
      timer = undefined
    }
  }
}

export default fp(async function ticker (fastify) {
  const { ALERT_INTERVAL_MS, ALERT_MESSAGE, ALERT_LOCATION } = fastify.config
  const ticker = createTicker({
    intervalMs: ALERT_INTERVAL_MS,
    message: ALERT_MESSAGE,
    location: ALERT_LOCATION,
    publisher: fastify.publisher,
    log: fastify.log,
    // With Redis, one instance of the cluster publishes each slot's alert.
    claim: fastify.redis === null || ALERT_INTERVAL_MS === 0 ? claimAlways : createRedisClaim(fastify.redis, ALERT_INTERVAL_MS)
  })
  fastify.addHook('onReady', async () => ticker.start())
  // Stopped at preClose, not onClose: no automatic alert once shutdown has begun.
  fastify.addHook('preClose', async () => ticker.stop())
}, { name: 'ticker', dependencies: ['config', 'publisher', 'redis'] })
