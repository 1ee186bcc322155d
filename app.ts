import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import config, { type ConfigOptions } from './plugins/config'
import redis from './plugins/redis'
import validation from './plugins/validation'
import errors from './plugins/errors'
import security from './plugins/security'
import docs from './plugins/docs'
import dashboard from './plugins/dashboard'
import asyncapi from './plugins/asyncapi'
import store from './plugins/store'
import broadcaster from './plugins/broadcaster'
import publisher from './plugins/publisher'
import ticker from './plugins/ticker'
import pressure from './plugins/pressure'
import limits from './plugins/rate-limit'
import auth from './plugins/auth'
import health from './plugins/health'
import metrics from './plugins/metrics'
import alerts from './routes/alerts'
import messages from './routes/messages'
import ws from './routes/ws'
import healthRoutes from './routes/health'
import metricsRoute from './routes/metrics'

/** Fastify options shared by server.ts and the tests, so both run the same server. */
export const options: FastifyServerOptions = {
  bodyLimit: 64 * 1024,
  routerOptions: { ignoreTrailingSlash: true },
  forceCloseConnections: 'idle'
}

export interface AppOptions extends ConfigOptions {
  /**
   * How many proxy hops to trust for the client address. Fastify reads it per
   * request through `trustProxy`, which must be given before the configuration
   * is loaded, so the app fills it in from TRUST_PROXY once it is.
   */
  proxies?: { hops: number }
}

/**
 * Logger options for a level: JSON lines, pretty when `pretty` (a terminal).
 * A token never reaches a log line, whether sent as a header or as ?token=.
 */
export function loggerOptions (level: string, pretty = false): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactToken(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort
      })
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
  }
}

export function redactToken (url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]')
}

const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  await fastify.register(config, opts)
  if (opts.proxies !== undefined) opts.proxies.hops = fastify.config.TRUST_PROXY
  // Null without REDIS_URL: store, broadcaster and ticker then stay in memory.
  await fastify.register(redis)
  await fastify.register(validation)
  await fastify.register(errors)
  // Before anything that may refuse a WebSocket upgrade.
  await fastify.register(broadcaster)
  await fastify.register(pressure)
  await fastify.register(security)
  await fastify.register(limits)
  await fastify.register(auth)
  await fastify.register(docs)
  await fastify.register(dashboard)
  await fastify.register(asyncapi)
  await fastify.register(store)
  await fastify.register(publisher)
  await fastify.register(ticker)
  await fastify.register(health)
  await fastify.register(metrics)

  await fastify.register(healthRoutes)
  await fastify.register(metricsRoute)
  // The API itself: behind API_TOKEN when that is set.
  await fastify.register(async function api (api) {
    api.addHook('onRequest', api.bearerGuard(api.config.API_TOKEN))
    await api.register(alerts)
    await api.register(messages)
    await api.register(ws)
  })
}

export default app

/**
 * A Fastify instance with the app registered at its root (so decorators such as
 * `config` are visible to the caller). server.ts and the tests both use this.
 */
export function build (logger: FastifyServerOptions['logger'], opts: AppOptions = {}): FastifyInstance {
  const proxies = { hops: 0 }
  // Hop 0 is the peer of the socket; each trusted hop lets request.ip (and so
  // the rate limit's key) come one step further from X-Forwarded-For.
  const fastify = Fastify({ ...options, logger, trustProxy: (_address: string, hop: number) => hop < proxies.hops })
  void fastify.register(fp(app), { ...opts, proxies })
  return fastify
}
