import fp from 'fastify-plugin'
import { createTicker } from '../core/ticker'
import { AlertNotFoundError } from '../core/errors'

/** The key of the automatic alert without ALERT_KEY: each tick resolves the previous one by it. */
export const TICKER_KEY = 'ticker'

// The server's own publisher of the automatic alert.
export default fp(async function ticker (fastify) {
  const { ALERT_INTERVAL_MS, ALERT_MESSAGE, ALERT_LOCATION, ALERT_SEVERITY, ALERT_KEY } = fastify.config
  const { claims } = fastify.backend
  const ticker = createTicker({
    intervalMs: ALERT_INTERVAL_MS,
    message: ALERT_MESSAGE,
    location: ALERT_LOCATION,
    severity: ALERT_SEVERITY,
    key: ALERT_KEY === '' ? undefined : ALERT_KEY,
    // Without ALERT_KEY each tick is a new alert (the original contract), and
    // resolves the previous one: ticks no longer pile up thousands of open
    // alerts a day that bury real ones on the board and in the counts.
    supersede: {
      key: TICKER_KEY,
      resolve: async (key) => {
        try {
          await fastify.publisher.act({ key }, 'resolve', 'ticker', 'superseded by the next automatic alert')
        } catch (err) {
          if (!(err instanceof AlertNotFoundError)) throw err
        }
      }
    },
    publisher: fastify.publisher,
    log: fastify.log,
    timers: fastify.timers,
    // One instance of a cluster publishes each slot's alert. The claim outlives
    // the slot so that an instance whose timer runs late cannot take it again.
    claim: async (slot) => await claims.claim(`ticker:${slot}`, 2 * ALERT_INTERVAL_MS)
  })
  fastify.addHook('onReady', async () => { ticker.start() })
  // Stopped at preClose, not onClose: nothing automatic once shutdown has begun.
  fastify.addHook('preClose', async () => { ticker.stop() })
}, { name: 'ticker', fastify: '5.x', dependencies: ['config', 'timers', 'backend', 'publisher'] })
