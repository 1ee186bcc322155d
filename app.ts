import Fastify, { LogController, type FastifyHttpOptions, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Server } from 'node:http'
import fp from 'fastify-plugin'
import type { Config } from './schemas/config'
import config, { trustedProxies } from './plugins/app/config'
import validation from './plugins/app/validation'
import errors, { clientErrorHandler } from './plugins/app/errors'
import securityHeaders, { SECURITY_HEADERS } from './plugins/app/security-headers'
import { errorBody } from './schemas/errors'
import timers, { type TimersOptions } from './plugins/app/timers'
import publishBudget from './plugins/app/publish-budget'
import websocket from './plugins/external/websocket'
import pressure from './plugins/external/pressure'
import cors from './plugins/external/cors'
import rateLimit from './plugins/external/rate-limit'
import docs from './plugins/external/docs'
import dashboard from './plugins/external/dashboard'
import backend from './plugins/app/backend'
import origin from './plugins/app/origin'
import credentials from './plugins/app/credentials'
import jwt from './plugins/external/jwt'
import auth from './plugins/app/auth'
import fanout from './plugins/app/fanout'
import publisher from './plugins/app/publisher'
import ticker from './plugins/app/ticker'
import escalator from './plugins/app/escalator'
import readiness from './plugins/app/readiness'
import heartbeatMonitors from './plugins/app/heartbeats'
import metrics from './plugins/app/metrics'
import notifications from './plugins/app/notifications'
import alerts from './routes/alerts'
import messages from './routes/messages'
import ws from './routes/ws'
import events from './routes/events'
import asyncapi from './routes/asyncapi'
import healthRoutes from './routes/health'
import metricsRoute from './routes/metrics'
import whoami from './routes/whoami'
import alertmanager from './routes/alertmanager'
import pagerduty from './routes/pagerduty'
import grafana from './routes/grafana'
import heartbeats from './routes/heartbeats'
import exportRoute from './routes/export'
import { redactToken, redactUrlToken } from './plugins/core/redact'
import notificationRoutes from './routes/notifications'
import silenceRoutes from './routes/silences'
import actionRoutes from './routes/actions'
import admin from './routes/admin'

/** The longest path segment a route's parameter takes (a heartbeat's name is refused past 100 with a 400 naming it). */
const MAX_PARAM_LENGTH = 500

/** Fastify options for a configuration, shared by server.ts and the tests, so both run the same server. */
/** A request slower than this is logged at info, as one that failed; others at debug. */
export const SLOW_REQUEST_MS = 1000

/**
 * Fastify's request lines, quieter: every successful request at info would
 * bury what matters (a dashboard polls, the ticker publishes). A request is
 * logged at debug, unless it failed (4xx at info, 5xx at error) or was slow.
 */
class RequestLogController extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    if (error !== null && error !== undefined) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else if (reply.statusCode >= 400 || reply.elapsedTime >= SLOW_REQUEST_MS) reply.log.info({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

export function serverOptions (config: Config): FastifyHttpOptions<Server> {
  const { REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS } = config
  return {
    bodyLimit: 64 * 1024,
    logController: new RequestLogController(),
    // Past maxParamLength a path is a 404; a heartbeat's name (up to 100) may be longer, and is then refused with a 400 naming it.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // What the router refuses before any route or hook runs (a path whose
    // percent-encoding is broken, a path parameter past maxParamLength) gets
    // the error shape and the security headers of every other answer.
    frameworkErrors (error, _request, reply) {
      const body = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? errorBody('NOT_FOUND', `no route has a path segment longer than ${MAX_PARAM_LENGTH} characters`)
        : errorBody('BAD_REQUEST', 'the URL is not valid: a percent sign must start an escape of two hex digits, and escapes must make UTF-8')
      // Typed for the route it never reached: its generic reply shape is only a cast away.
      void (reply as unknown as FastifyReply).code(body.statusCode).headers(SECURITY_HEADERS).send(body)
    },
    forceCloseConnections: 'idle',
    trustProxy: trustedProxies(config),
    // Without these a client could hold a connection for ever by sending its
    // request a byte at a time (Fastify's requestTimeout is 0 by default).
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // Node checks both timeouts on this period (30 s by default), so a
      // request could outlive its timeout by that much.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(Math.min(HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS) / 4)))
    },
    clientErrorHandler
  }
}

export interface AppOptions extends TimersOptions {
  config: Config
}

/**
 * Logger options for a level: JSON lines, pretty when `pretty` (a terminal).
 * A token never reaches a log line, whether sent as a header or as ?token=.
 */
export function loggerOptions (level: string, pretty = false): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    // Every line, whoever wrote it: third-party plugins log raw paths too.
    hooks: { streamWrite: redactToken },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactUrlToken(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort
      })
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
  }
}

export { redactToken }

const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // Foundations: configuration, then how input is checked and errors answered.
  await fastify.register(config, { config: opts.config })
  await fastify.register(timers, { timers: opts.timers })
  // The publish budget before the rate limit that counts against it.
  await fastify.register(publishBudget)
  await fastify.register(validation)
  await fastify.register(errors)
  // Every response, refusals included, carries the security headers.
  await fastify.register(securityHeaders)

  // Third-party plugins. @fastify/websocket comes before every hook that may
  // refuse an upgrade, so those hooks see request.ws and a refused socket is
  // destroyed after its response.
  await fastify.register(websocket)
  await fastify.register(pressure)
  await fastify.register(cors)
  await fastify.register(rateLimit)
  await fastify.register(docs)
  await fastify.register(dashboard)

  // This service: the backend (memory or Redis), then what is built on it.
  await fastify.register(backend)
  await fastify.register(origin)
  // Credentials before anything that routes: the auth hook reads each route's
  // declared scope, and notes it in the OpenAPI document as routes are added.
  await fastify.register(credentials)
  await fastify.register(jwt)
  await fastify.register(auth)
  await fastify.register(fanout)
  await fastify.register(publisher)
  await fastify.register(notifications)
  await fastify.register(ticker)
  await fastify.register(escalator)
  await fastify.register(heartbeatMonitors)
  await fastify.register(readiness)
  await fastify.register(metrics)

  // Routes: each declares the scope it needs (config.scope) or that it is public.
  await fastify.register(healthRoutes)
  await fastify.register(metricsRoute)
  await fastify.register(asyncapi)
  await fastify.register(whoami)
  await fastify.register(alerts)
  await fastify.register(messages)
  await fastify.register(ws)
  await fastify.register(alertmanager)
  await fastify.register(pagerduty)
  await fastify.register(grafana)
  await fastify.register(heartbeats)
  await fastify.register(exportRoute)
  await fastify.register(notificationRoutes)
  await fastify.register(silenceRoutes)
  await fastify.register(actionRoutes)
  await fastify.register(admin)
  await fastify.register(events)
}

export default app

/**
 * A Fastify instance for a configuration (see loadConfig), with the app
 * registered at its root (so decorators such as `config` are visible to the
 * caller). server.ts and the tests both use this. The logger defaults to
 * JSON lines at LOG_LEVEL.
 */
export function build (config: Config, logger: FastifyServerOptions['logger'] = loggerOptions(config.LOG_LEVEL), opts: TimersOptions = {}): FastifyInstance {
  const fastify = Fastify({ ...serverOptions(config), logger })
  void fastify.register(fp(app), { ...opts, config })
  return fastify
}
