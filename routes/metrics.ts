import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { neverShed } from './shared'

const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { metrics: registry } = fastify

  fastify.get('/metrics', {
    // Its own scope (METRICS_TOKEN has it), not API_TOKEN's: the scraper need not be able to publish.
    config: { ...neverShed, scope: 'metrics' },
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      description: 'Requires METRICS_TOKEN, or a credential with the metrics or admin scope, when METRICS_TOKEN, TOKENS_FILE or a JWT key is set.'
    }
  }, async (_request, reply) => {
    const body = await registry.metrics()
    return await reply.type(registry.contentType).send(body)
  })
}

export default metrics
