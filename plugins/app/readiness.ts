import fp from 'fastify-plugin'

export interface Readiness {
  /** Why the server cannot serve now, or undefined when it can. */
  problem: () => string | undefined
  /** What an operator should know although the server serves (a board so full that new alerts are refused). */
  warnings: () => string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
  }
}

export default fp(async function readiness (fastify) {
  const { backend } = fastify
  let phase: 'starting' | 'ready' | 'shutting down' = 'starting'
  const checks: Array<() => string | undefined> = [
    () => phase === 'ready' ? undefined : phase,
    () => fastify.isUnderPressure() ? 'overloaded' : undefined,
    // An instance that cannot reach its backend can neither publish nor deliver.
    () => backend.problem(),
    // A wiped Redis serves, but what it served is gone: an operator must know (REDIS_WIPED).
    () => backend.wipes?.problem()
  ]
  fastify.decorate('readiness', {
    // A full board still serves reads, acknowledgements and resolves: said, not failed.
    warnings: () => fastify.publisher.boardFullSince() === undefined ? [] : ['board full: new alerts are refused (OPEN_ALERTS_MAX alerts not resolved, none of which may be dropped for the last one refused); resolve some'],
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
}, { name: 'readiness', fastify: '5.x', dependencies: ['pressure', 'backend', 'publisher'] })
