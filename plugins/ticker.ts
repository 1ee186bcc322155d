import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Publisher } from './publisher'

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
}

/** Publishes the automatic alert every intervalMs; 0 means never. */
export function createTicker ({ intervalMs, message, location, publisher, log }: TickerOptions): Ticker {
  let timer: NodeJS.Timeout | undefined
  return {
    start () {
      if (intervalMs === 0 || timer !== undefined) return
      timer = setInterval(() => {
        publisher.publish({ type: 'alert', message, location })
          .catch((err: unknown) => log.error({ err }, 'automatic alert failed'))
      }, intervalMs)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
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
    log: fastify.log
  })
  fastify.addHook('onReady', async () => ticker.start())
  // Stopped at preClose, not onClose: no automatic alert once shutdown has begun.
  fastify.addHook('preClose', async () => ticker.stop())
}, { name: 'ticker', dependencies: ['config', 'publisher'] })
