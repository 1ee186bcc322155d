import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { httpError } from '../../schemas/errors'
import { publishBudget, type WindowState } from '../core/publish-budget'
import { clientKey } from '../app/auth'
import { subscribes } from '../app/broadcaster'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts one chat message against the client's publish budget (the one POSTs use; `clientKey`); false when over it. */
    takePublish: (key: string) => boolean
  }
}

type Done = (err: Error | null, state: WindowState) => void

/** Milliseconds, or a duration string such as "1 minute" that @fastify/rate-limit reads itself. */
export function timeWindow (value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value
}

// Publishing (every POST), WebSocket upgrades and GET /events streams are
// limited per named identity, or per client address without one; reads are
// not, so a dashboard can always load its history.
export default fp(async function limits (fastify) {
  const { RATE_LIMIT_MAX, RATE_LIMIT_WINDOW } = fastify.config
  const budget = publishBudget()
  let windowMs = 60_000
  // @fastify/rate-limit's store interface over the shared budget; the plugin
  // hands it the window it parsed from RATE_LIMIT_WINDOW.
  class SharedStore {
    constructor (params: { timeWindow?: unknown }) {
      if (typeof params.timeWindow === 'number') windowMs = params.timeWindow
    }

    incr (key: string, done: Done, ms: number): void { done(null, budget.hit(key, ms)) }
    read (key: string, done: Done, ms: number): void { done(null, budget.peek(key, ms)) }
    child (): this { return this }
  }
  fastify.decorate('takePublish', (address: string) => budget.hit(address, windowMs).current <= RATE_LIMIT_MAX)
  await fastify.register(rateLimit, {
    store: SharedStore,
    global: true,
    max: RATE_LIMIT_MAX,
    timeWindow: timeWindow(RATE_LIMIT_WINDOW),
    allowList: (request) => request.method !== 'POST' && !subscribes(request),
    // After the auth hook (onRequest), so a named identity is known: its
    // budget follows it from address to address, and colleagues behind one
    // NAT do not share one.
    hook: 'preParsing',
    keyGenerator: clientKey,
    // Thrown by the plugin, so the error handler gives it the usual shape.
    errorResponseBuilder: (_request, context) =>
      httpError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} reached; retry in ${context.after}`)
  })
}, { name: 'rate-limit', fastify: '5.x', dependencies: ['config'], decorators: { request: ['ws'] } })
