import fp from 'fastify-plugin'
import { createHeartbeats, type Heartbeats } from '../core/heartbeats'

declare module 'fastify' {
  interface FastifyInstance {
    /** Heartbeat monitors: pings (success, start, failure), the list, one with its pings, removal; misses raised once for the cluster. */
    heartbeats: Heartbeats
  }
}

export default fp(async function heartbeats (fastify) {
  const monitors = createHeartbeats({
    store: fastify.backend.heartbeats,
    publisher: fastify.publisher,
    log: fastify.log,
    periodMs: fastify.config.HEARTBEAT_CHECK_MS,
    max: fastify.config.HEARTBEATS_MAX,
    // One instance of a cluster reads the due monitors each period; the claim
    // outlives the period, as the ticker's. A backend of one process has one
    // checker, and would pay a write per period (each second) for nothing.
    ...(fastify.backend.kind === 'redis' ? { claim: async (slot: number) => await fastify.backend.claims.claim(`heartbeat-check:${slot}`, 2 * fastify.config.HEARTBEAT_CHECK_MS) } : {}),
    timers: fastify.timers
  })
  fastify.decorate('heartbeats', monitors)
  fastify.addHook('onReady', async () => monitors.start())
  // Stopped at preClose, as the ticker: nothing automatic once shutdown has begun,
  // and a check in flight ends before the backend closes.
  fastify.addHook('preClose', async () => monitors.stop())
}, { name: 'heartbeats', fastify: '5.x', dependencies: ['config', 'timers', 'backend', 'publisher'] })
