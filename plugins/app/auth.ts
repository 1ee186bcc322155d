import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { httpError } from '../../schemas/errors'
import { failureBudget } from '../core/failure-budget'

export type Guard = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route also takes the token as ?token= (GET /events: EventSource cannot set headers). */
    queryToken?: boolean
    /** The scope a credential needs for the route (inert until credentials carry scopes). */
    scope?: 'subscribe' | 'publish' | 'operate' | 'admin'
  }
  interface FastifyInstance {
    /** An onRequest hook that lets through only requests bearing `token`; an empty token lets everything through. */
    bearerGuard: (token: string) => Guard
  }
}

// Hashing first gives both sides the same length, so the comparison time
// says nothing about the token.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export function sameToken (given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/** The route's config; absent on a request built by hand. */
export const routeConfig = (request: FastifyRequest): FastifyRequest['routeOptions']['config'] | undefined =>
  (request.routeOptions as FastifyRequest['routeOptions'] | undefined)?.config

/** The token a request carries: `Authorization: Bearer <token>`, or `?token=` on a WebSocket upgrade or a `queryToken` route (browsers cannot set headers there). */
export function presentedToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1] ?? ''
  }
  if (request.ws || routeConfig(request)?.queryToken === true) {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    if (typeof token === 'string') return token
  }
  return undefined
}

export default fp(async function auth (fastify) {
  const { AUTH_FAILURE_MAX, AUTH_FAILURE_WINDOW_MS } = fastify.config
  // One budget for every guard (API and metrics tokens): guessing is guessing.
  const failures = failureBudget(AUTH_FAILURE_MAX, AUTH_FAILURE_WINDOW_MS)
  // Callback hooks, not async ones: every API request passes here, and with
  // no token configured it costs one call and no promise.
  const open: Guard = (_request, _reply, done) => { done() }
  fastify.decorate('bearerGuard', (token: string): Guard => token === ''
    ? open
    : (request, reply, done) => {
        // request.ip can be missing on an injected WebSocket upgrade.
        const address = request.ip ?? request.socket?.remoteAddress ?? 'unknown'
        // Checked before the token, so that past the budget even the right token
        // gets 429: an answer that differed would still tell a guess right from wrong.
        const wait = failures.retryIn(address)
        if (wait > 0) {
          const seconds = Math.ceil(wait / 1000)
          reply.header('retry-after', String(seconds))
          done(httpError('AUTH_RATE_LIMITED', `too many failed authentications from this address; retry in ${seconds} s`))
          return
        }
        const given = presentedToken(request)
        if (given !== undefined && sameToken(given, token)) {
          done()
          return
        }
        // A missing token is no guess (a page asks for it after a first 401), so only wrong ones count.
        if (given !== undefined && failures.fail(address)) {
          request.log.warn({ address, failures: AUTH_FAILURE_MAX, windowMs: AUTH_FAILURE_WINDOW_MS }, 'authentication failures past the budget: address refused until the window ends')
        }
        reply.header('www-authenticate', 'Bearer')
        done(given === undefined
          ? httpError('TOKEN_REQUIRED', 'a token is required: send Authorization: Bearer <token>' + (request.ws ? ' or ?token=<token>' : ''))
          : httpError('TOKEN_INVALID', 'the token is not valid'))
      })
}, { name: 'auth', fastify: '5.x', dependencies: ['config', 'errors'], decorators: { request: ['ws'] } })
