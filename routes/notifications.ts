import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { apiErrors } from '../schemas/errors'
import { Deliveries, DeliveriesQuery, type Delivery } from '../schemas/notifications'
import type { OutboxEntry } from '../plugins/core/backend'

const iso = (ms: number): string => new Date(ms).toISOString()

function deliveryOf (entry: OutboxEntry): Delivery {
  const delivery: Delivery = {
    id: entry.id,
    receiver: entry.receiver,
    event: entry.kind,
    eventId: entry.event.id,
    alertId: entry.alertId,
    createdAt: iso(entry.createdAt),
    status: entry.status,
    attempts: entry.attempts
  }
  if (entry.status === 'pending' && entry.due !== undefined) delivery.nextAttemptAt = iso(entry.due)
  if (entry.lastAt !== undefined) delivery.lastAttemptAt = iso(entry.lastAt)
  if (entry.lastStatus !== undefined) delivery.lastStatus = entry.lastStatus
  if (entry.lastError !== undefined) delivery.lastError = entry.lastError
  return delivery
}

const notifications: FastifyPluginAsyncTypebox = async (fastify) => {
  const { notifications } = fastify

  fastify.get('/notifications', {
    config: { scope: 'admin' },
    schema: {
      tags: ['operations'],
      summary: 'Recent notifications and how their delivery went',
      description: 'Newest first, filterable by receiver and status (pending, delivered, failed: given up). Each attempt is also on the alert\'s timeline. ' +
        'With STORE=sqlite they are kept RETENTION; in memory, the newest 1,000 finished ones; in Redis, the newest 10,000.',
      querystring: DeliveriesQuery,
      response: { 200: Deliveries, ...apiErrors }
    }
  }, async (request) => {
    const { receiver, status, limit = 100 } = request.query
    const outbox = notifications.outbox
    const entries = await outbox.recent({ ...(receiver === undefined ? {} : { receiver }), ...(status === undefined ? {} : { status }), limit })
    const { pending } = await outbox.depth()
    const receivers = [...notifications.config().receivers.values()].map(({ name, kind }) => ({ name, kind }))
    return { deliveries: entries.map(deliveryOf), count: entries.length, pending, receivers }
  })
}

export default notifications
