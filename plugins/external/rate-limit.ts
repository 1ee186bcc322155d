import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { httpError } from '../../schemas/errors'

/** Milliseconds, or a duration string such as "1 minute" that @fastify/rate-limit reads itself. */
export function timeWindow (value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value
}

// @fastify/rate-limit with RATE_LIMIT_MAX per RATE_LIMIT_WINDOW, counting
// against this service's publish budget (plugins/app/publish-budget.ts: the
// store, who is counted, what is not limited).
export default fp(async function limits (fastify) {
  const { RATE_LIMIT_MAX, RATE_LIMIT_WINDOW } = fastify.config
  const { store, keyGenerator, allowList } = fastify.publishLimits
  await fastify.register(rateLimit, {
    store,
    global: true,
    max: RATE_LIMIT_MAX,
    timeWindow: timeWindow(RATE_LIMIT_WINDOW),
    allowList,
    // After the auth hook (onRequest), so a named identity is known: its
    // budget follows it from address to address, and colleagues behind one
    // NAT do not share one.
    hook: 'preParsing',
    keyGenerator,
    // Thrown by the plugin, so the error handler gives it the usual shape.
    errorResponseBuilder: (_request, context) =>
      httpError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} reached; retry in ${context.after}`)
  })
}, { name: 'rate-limit', fastify: '5.x', dependencies: ['config', 'publish-budget'], decorators: { request: ['ws'] } })
