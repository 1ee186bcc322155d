import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { neverShed } from './shared'

const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { metrics: registry, bearerGuard } = fastify

  // Its own token, not API_TOKEN: the scraper need not be able to publish.
  fastify.addHook('onRequest', bearerGuard(fastify.config.METRICS_TOKEN))

  fastify.get('/metrics', {
    config: neverShed,
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      description: 'Requires METRICS_TOKEN as a bearer token when that is set.',
      security: [{}, { bearerAuth: [] }]
    }
  }, async (_request, reply) => {
    const body = await registry.metrics()
    return await reply.type(registry.contentType).send(body)
  })
}

export default metrics
