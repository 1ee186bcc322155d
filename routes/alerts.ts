import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Alert, AlertHistory, AlertInput, PublishHeaders } from '../schemas/events'
import { apiErrors, publishErrors } from '../schemas/errors'
import { publishRequest } from './shared'

const alerts: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, backend: { store } } = fastify

  fastify.post('/alerts', {
    schema: {
      tags: ['alerts'],
      summary: 'Raise an alert',
      description: 'Stores the alert and sends it to every WebSocket client. Unknown fields are ignored. With an Idempotency-Key header a retry is safe: it gets the first result and publishes nothing.',
      body: AlertInput,
      headers: PublishHeaders,
      response: { 200: Alert, ...publishErrors }
    }
  }, async (request, reply) => await publishRequest(publisher, { type: 'alert', ...request.body }, request.headers['idempotency-key'], reply))

  fastify.get('/alerts/history', {
    schema: {
      tags: ['alerts'],
      summary: 'The most recent alerts, oldest first',
      response: { 200: AlertHistory, ...apiErrors }
    }
  }, async () => {
    const list = await store.list('alert')
    return { alerts: list, count: list.length }
  })
}

export default alerts
