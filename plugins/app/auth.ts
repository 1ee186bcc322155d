import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpError, type HttpError } from '../../schemas/errors'
import { failureBudget } from '../core/failure-budget'
import { looksLikeJwt, readClaims, scopeAllows, type Identity, type Scope } from '../core/credentials'
import { clientAddress, routeConfig } from './requests'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; a route without one must be deliberately `public` (a test walks them all). */
    scope?: Scope
    /** Open to everyone, whatever credentials are configured (health, docs, the dashboard). */
    public?: boolean
    /** Needs a valid credential of any scope (GET /whoami). */
    identify?: boolean
    /** Also accepts the token as ?token= (routes a browser opens without headers: EventSource). */
    queryToken?: boolean
    /**
     * Also accepts the token in this field of the body (PagerDuty's routing_key:
     * its senders cannot set a header). The check then waits for the parsed
     * body (preValidation, before the body is checked) instead of running on
     * the request's arrival.
     */
    bodyToken?: string
  }
  interface FastifyRequest {
    /** Who sent the request, when credentials are configured and it carried a valid one. */
    identity: Identity | null
  }
  interface FastifyInstance {
    /** Whether any credential is configured: without, every route is open, as before. */
    authEnforced: boolean
    /** What makes the API require a token: API_TOKEN, TOKENS_FILE, JWT (a JWT key); none when it is open. */
    tokensRequiredBy: readonly string[]
    /** Whether the request may do what `scope` allows (always, when nothing is configured). */
    allows: (request: FastifyRequest, scope: Scope) => boolean
  }
}

/** Whether the request may carry its token as ?token=: a WebSocket upgrade, or a `queryToken` route (browsers cannot set headers there). */
const takesQueryToken = (request: FastifyRequest): boolean => request.ws || routeConfig(request)?.queryToken === true

/** The token a request carries: `Authorization: Bearer <token>`, or `?token=` on a WebSocket upgrade or a `queryToken` route (browsers cannot set headers there). */
export function presentedToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1] ?? ''
  }
  if (takesQueryToken(request)) {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    if (typeof token === 'string') return token
  }
  return undefined
}

// One onRequest hook for every route: the route declares the scope it needs
// (`config: { scope }`), the hook finds who the request is and whether that
// identity has it. 401 without a valid token, 403 with one that lacks the
// scope. Nothing in an answer tells whether a name exists.
export default fp(async function auth (fastify) {
  const { API_TOKEN, METRICS_TOKEN, TOKENS_FILE, JWT_SECRET, JWT_PUBLIC_KEY, AUTH_FAILURE_MAX, AUTH_FAILURE_WINDOW_MS } = fastify.config
  const { credentials, timers } = fastify
  const jwt = JWT_SECRET !== '' || JWT_PUBLIC_KEY !== '' ? fastify.jwt : undefined
  // API_TOKEN alone guards the API as before; METRICS_TOKEN alone guards
  // /metrics as before. A file or a JWT key guards both.
  const shared = TOKENS_FILE !== '' || jwt !== undefined
  const requiredBy = [API_TOKEN !== '' && 'API_TOKEN', TOKENS_FILE !== '' && 'TOKENS_FILE', jwt !== undefined && 'JWT'].filter((name) => name !== false)
  const enforced = requiredBy.length > 0
  const metricsEnforced = shared || METRICS_TOKEN !== ''
  const guarded = (scope: Scope): boolean => scope === 'metrics' ? metricsEnforced : enforced
  // One budget for every route: guessing is guessing.
  const failures = failureBudget(AUTH_FAILURE_MAX, AUTH_FAILURE_WINDOW_MS, undefined, timers.now)

  // Said once the server listens (a start that fails says only why it failed).
  fastify.addHook('onListen', async () => {
    if (!enforced && !metricsEnforced) {
      // Info, not warn: an open server is the default for a first run, not a fault.
      fastify.log.info('no API_TOKEN, TOKENS_FILE, JWT_SECRET or JWT_PUBLIC_KEY: every route is open to whoever reaches the server')
    } else {
      fastify.log.info({ api: API_TOKEN !== '', metrics: METRICS_TOKEN !== '', tokens: credentials.size, jwt: jwt !== undefined }, 'credentials required')
    }
  })

  /** The identity of a token, 'expired' for a genuine JWT past its exp, or undefined. */
  function identify (token: string): Identity | 'expired' | undefined {
    // Static tokens first (a hash lookup): one that happens to look like a JWT still works.
    const known = credentials.identify(token)
    if (known !== undefined || jwt === undefined || !looksLikeJwt(token)) return known
    let payload: unknown
    try {
      payload = jwt.verify(token)
    } catch {
      return undefined
    }
    const identity = readClaims(payload)
    if (typeof identity === 'string') return undefined
    return (identity.expires as number) <= timers.now() ? 'expired' : identity
  }

  /** Why the request may not go on (401, 403 or 429), or undefined and `request.identity` set. */
  function check (request: FastifyRequest, reply: FastifyReply, scope: Scope | undefined, inBody?: string): HttpError | undefined {
    const address = clientAddress(request)
    // Checked before the token, so that past the budget even the right token
    // gets 429: an answer that differed would still tell a guess right from wrong.
    const wait = failures.retryIn(address)
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000)
      reply.header('retry-after', String(seconds))
      return httpError('AUTH_RATE_LIMITED', `too many failed authentications from this address; retry in ${seconds} s`)
    }
    const given = presentedToken(request) ?? inBody
    reply.header('www-authenticate', 'Bearer')
    if (given === undefined) {
      const byQuery = takesQueryToken(request)
      const repeated = byQuery ? (request.query as Record<string, unknown> | undefined)?.token : undefined
      if (Array.isArray(repeated)) return httpError('INVALID_QUERY', `querystring/token is given ${repeated.length} times; give it once`)
      return httpError('TOKEN_REQUIRED', 'a token is required: send Authorization: Bearer <token>' + (byQuery ? ' or ?token=<token>' : ''))
    }
    // Another scheme, or a token without its "Bearer " (no guess: nothing was compared).
    if (given === '') return httpError('TOKEN_INVALID', 'the Authorization header holds no bearer token: use Authorization: Bearer <token>')
    const identity = identify(given)
    if (identity === 'expired') return httpError('TOKEN_EXPIRED', 'the token has expired; get a fresh one')
    if (identity === undefined) {
      // A missing token is no guess (a page asks for it after a first 401), so only wrong ones count.
      if (failures.fail(address)) {
        request.log.warn({ address, failures: AUTH_FAILURE_MAX, windowMs: AUTH_FAILURE_WINDOW_MS }, 'authentication failures past the budget: address refused until the window ends')
      }
      return httpError('TOKEN_INVALID', 'the token is not valid')
    }
    reply.removeHeader('www-authenticate')
    if (scope !== undefined && !scopeAllows(identity.scopes, scope)) {
      return httpError('SCOPE_MISSING', `this needs the ${scope} scope, which this token does not have`)
    }
    request.identity = identity
    return undefined
  }

  fastify.decorateRequest('identity', null)
  fastify.decorate('authEnforced', enforced)
  fastify.decorate('tokensRequiredBy', requiredBy)
  fastify.decorate('allows', (request: FastifyRequest, scope: Scope) =>
    !guarded(scope) || (request.identity !== null && scopeAllows(request.identity.scopes, scope)))

  // A callback hook, not an async one: every request passes here, and an open
  // route costs a property read and no promise.
  fastify.addHook('onRequest', (request, reply, done) => {
    const { scope, identify: any, bodyToken } = request.routeOptions.config
    if (bodyToken !== undefined || (scope === undefined ? !(any === true && enforced) : !guarded(scope))) {
      done()
      return
    }
    done(check(request, reply, scope))
  })

  // Routes that take the token in their body, once it is parsed: still before
  // it is validated, so that a client without a credential learns nothing more.
  fastify.addHook('preValidation', (request, reply, done) => {
    const { scope, bodyToken } = request.routeOptions.config
    if (bodyToken === undefined || scope === undefined || !guarded(scope)) {
      done()
      return
    }
    const field = (request.body as Record<string, unknown> | undefined)?.[bodyToken]
    done(check(request, reply, scope, typeof field === 'string' ? field : undefined))
  })

  // The OpenAPI document shows each route's scope: `security` with the scope
  // named, and a line in its description.
  fastify.addHook('onRoute', (route) => {
    const scope = route.config?.scope
    const schema = route.schema as { security?: unknown, description?: string } | undefined
    if (schema === undefined || schema.security !== undefined) return
    if (scope !== undefined) {
      schema.security = guarded(scope) ? [{ bearerAuth: [scope] }] : [{}, { bearerAuth: [scope] }]
      const line = `Scope: \`${scope}\`${scope === 'admin' || scope === 'metrics' ? '' : ' (or admin)'}.`
      schema.description = schema.description === undefined ? line : `${schema.description} ${line}`
    } else if (route.config?.identify === true) {
      schema.security = enforced ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }]
    }
  })
}, {
  name: 'auth',
  fastify: '5.x',
  dependencies: ['config', 'errors', 'timers', 'credentials', 'jwt'],
  decorators: { request: ['ws'] }
})
