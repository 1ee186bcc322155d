import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { httpError } from '../../schemas/errors'

/** Milliseconds, or a duration string such as "1 minute" that @fastify/rate-limit reads itself. */
export function timeWindow (value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value
}

// Publishing (every POST) and WebSocket upgrades are limited per client
// address; reads are not, so a dashboard can always load its history.
export default fp(async function limits (fastify) {
  const { RATE_LIMIT_MAX, RATE_LIMIT_WINDOW } = fastify.config
  await fastify.register(rateLimit, {
    global: true,
    max: RATE_LIMIT_MAX,
    timeWindow: timeWindow(RATE_LIMIT_WINDOW),
    allowList: (request) => request.method !== 'POST' && !request.ws,
    // request.ip can be missing on an injected WebSocket upgrade.
    keyGenerator: (request) => request.ip ?? request.socket?.remoteAddress ?? 'unknown',
    // Thrown by the plugin, so the error handler gives it the usual shape.
    errorResponseBuilder: (_request, context) =>
      httpError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} reached; retry in ${context.after}`)
  })
}, { name: 'rate-limit', fastify: '5.x', dependencies: ['config'], decorators: { request: ['ws'] } })
