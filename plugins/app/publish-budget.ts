import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { publishBudget, type WindowState } from '../core/publish-budget'
import { clientKey, routeConfig, subscribes } from './requests'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts one chat message against the client's publish budget (the one POSTs use; `clientKey`); false when over it. */
    takePublish: (key: string) => boolean
    /**
     * Counts `count` more events of one request (the alerts of an Alertmanager
     * or Grafana payload beyond the first, which the request itself counted)
     * against the client's publish budget; false when they pass it.
     */
    takePublishMore: (key: string, count: number) => boolean
    /** The publish budget's window, in seconds (for Retry-After). */
    publishWindowSeconds: () => number
    /** What of @fastify/rate-limit's options is this service's: its store over the publish budget, who is counted, and what is not limited. */
    publishLimits: PublishLimits
  }
}

export interface PublishLimits {
  store: FastifyRateLimitStoreCtor
  keyGenerator: (request: FastifyRequest) => string
  allowList: (request: FastifyRequest) => boolean
}

type Done = (err: Error | null, state: WindowState) => void

// The one publish budget per client (named identity, or address): POSTs,
// requests to any route of the publish scope (a heartbeat's GET ping),
// WebSocket upgrades and GET /events streams count against it through
// @fastify/rate-limit (plugins/external/rate-limit.ts), chat over /ws through
// takePublish, so a WebSocket is not a way around the limit. Reads are not
// limited, so a dashboard can always load its history.
export default fp(async function publishBudgetPlugin (fastify) {
  const { RATE_LIMIT_MAX } = fastify.config
  const budget = publishBudget(undefined, fastify.timers.now)
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
  fastify.decorate('takePublishMore', (key: string, count: number) => {
    let within = true
    for (let i = 0; i < count; i++) within = budget.hit(key, windowMs).current <= RATE_LIMIT_MAX
    return within
  })
  fastify.decorate('publishWindowSeconds', () => Math.ceil(windowMs / 1000))
  fastify.decorate('publishLimits', {
    store: SharedStore,
    keyGenerator: clientKey,
    allowList: (request: FastifyRequest) => request.method !== 'POST' && !subscribes(request) && routeConfig(request)?.scope !== 'publish'
  })
}, { name: 'publish-budget', fastify: '5.x', dependencies: ['config', 'timers'] })
