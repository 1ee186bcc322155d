import fp from 'fastify-plugin'
import { createEscalator, escalationPeriod } from '../core/escalator'

// The server's own publisher of escalations: critical alerts nobody acknowledged, announced again.
export default fp(async function escalator (fastify) {
  const { ESCALATE_AFTER_MS } = fastify.config
  const { claims, store } = fastify.backend
  const escalator = createEscalator({
    afterMs: ESCALATE_AFTER_MS,
    store,
    publisher: fastify.publisher,
    log: fastify.log,
    timers: fastify.timers,
    // One instance of a cluster reads the open critical alerts each period (in
    // an alert storm, thousands); the claim outlives the period, as the ticker's.
    claim: async (slot) => await claims.claim(`escalation-check:${slot}`, 2 * escalationPeriod(ESCALATE_AFTER_MS)),
    // A silenced alert does not escalate.
    held: (alert) => fastify.notifications.silences.holds(alert),
    // Nor right after the message of its release (this instance's: see docs/notifications.md).
    releasedAt: (alert) => fastify.notifications.silences.releasedAt(alert)
  })
  fastify.addHook('onReady', async () => { escalator.start() })
  // Stopped at preClose, not onClose: nothing automatic once shutdown has begun,
  // and a check in flight ends before the backend closes.
  fastify.addHook('preClose', async () => { await escalator.stop() })
}, { name: 'escalator', fastify: '5.x', dependencies: ['config', 'timers', 'backend', 'publisher', 'notifications'] })
