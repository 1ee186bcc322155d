import fp from 'fastify-plugin'

export interface Readiness {
  /** Why the server cannot serve now, or undefined when it can. */
  problem: () => string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
  }
}

export default fp(async function health (fastify) {
  let phase: 'starting' | 'ready' | 'shutting down' = 'starting'
  const checks: Array<() => string | undefined> = [
    () => phase === 'ready' ? undefined : phase,
    () => fastify.isUnderPressure() ? 'overloaded' : undefined,
    // An instance that cannot reach its Redis can neither publish nor deliver.
    () => fastify.redis === null || fastify.redis.isReady() ? undefined : 'redis unreachable'
  ]
  fastify.decorate('readiness', {
    problem: () => {
      for (const check of checks) {
        const problem = check()
        if (problem !== undefined) return problem
      }
      return undefined
    }
  })
  fastify.addHook('onReady', async () => { phase = 'ready' })
  fastify.addHook('preClose', async () => { phase = 'shutting down' })
}, { name: 'health', dependencies: ['pressure', 'redis'] })
