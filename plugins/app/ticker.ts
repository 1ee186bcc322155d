import fp from 'fastify-plugin'
import { createTicker } from '../core/ticker'
import { createEscalator, escalationPeriod } from '../core/escalator'
import { AlertNotFoundError } from '../core/errors'

/** The key of the automatic alert without ALERT_KEY: each tick resolves the previous one by it. */
export const TICKER_KEY = 'ticker'

// The server's own publishers: the automatic alert, and escalation of critical alerts nobody acknowledged.
export default fp(async function ticker (fastify) {
  const { ALERT_INTERVAL_MS, ALERT_MESSAGE, ALERT_LOCATION, ALERT_SEVERITY, ALERT_KEY, ESCALATE_AFTER_MS } = fastify.config
  const { claims, store } = fastify.backend
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
  const escalator = createEscalator({
    afterMs: ESCALATE_AFTER_MS,
    store,
    publisher: fastify.publisher,
    log: fastify.log,
    timers: fastify.timers,
    // One instance of a cluster reads the open critical alerts each period (in
    // an alert storm, thousands); the claim outlives the period, as the ticker's.
    claim: async (slot) => await claims.claim(`escalation-check:${slot}`, 2 * escalationPeriod(ESCALATE_AFTER_MS)),
    held: (alert) => fastify.notifications.silences?.holds(alert) === true
  })
  fastify.addHook('onReady', async () => {
    ticker.start()
    escalator.start()
  })
  // Stopped at preClose, not onClose: nothing automatic once shutdown has begun.
  fastify.addHook('preClose', async () => {
    ticker.stop()
    escalator.stop()
  })
}, { name: 'ticker', fastify: '5.x', dependencies: ['config', 'timers', 'backend', 'publisher', 'notifications'] })
