import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { neverShed } from './shared'

const Status = Type.Object({
  status: Type.Unsafe<'ok' | 'ready' | 'not ready'>({ type: 'string', enum: ['ok', 'ready', 'not ready'] }),
  reason: Type.Optional(Type.String({ description: 'Why not: starting, shutting down, overloaded, redis unreachable, storage unavailable, or REDIS_WIPED: … (Redis lost this deployment\'s keys; see POST /admin/redis/confirm-wipe).' })),
  warnings: Type.Optional(Type.Array(Type.String(), { description: 'What an operator should know although the server serves: the board is full and new alerts are refused (BOARD_FULL).' }))
})

// Both answer even under pressure (neverShed) and without a token: load
// balancers and orchestrators must always be able to ask.
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readiness } = fastify

  fastify.get('/health', {
    config: { ...neverShed, public: true },
    schema: { tags: ['operations'], summary: 'Liveness: 200 while the process runs', security: [], response: { 200: Status } }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    config: { ...neverShed, public: true },
    schema: {
      tags: ['operations'],
      summary: 'Readiness: 200 when the server can serve, 503 otherwise',
      security: [],
      response: { 200: Status, 503: Status }
    }
  }, async (_request, reply) => {
    const reason = readiness.problem()
    const warnings = readiness.warnings()
    const told = warnings.length > 0 ? { warnings } : {}
    if (reason === undefined) return { status: 'ready' as const, ...told }
    return await reply.code(503).header('retry-after', '5').send({ status: 'not ready' as const, reason, ...told })
  })
}

export default health
