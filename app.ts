import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import config, { type ConfigOptions } from './plugins/config'
import validation from './plugins/validation'
import errors from './plugins/errors'
import security from './plugins/security'
import docs from './plugins/docs'
import asyncapi from './plugins/asyncapi'
import store from './plugins/store'
import broadcaster from './plugins/broadcaster'
import publisher from './plugins/publisher'
import ticker from './plugins/ticker'
import alerts from './routes/alerts'
import messages from './routes/messages'
import ws from './routes/ws'

/** Fastify options shared by server.ts and the tests, so both run the same server. */
export const options: FastifyServerOptions = {
  bodyLimit: 64 * 1024,
  routerOptions: { ignoreTrailingSlash: true },
  forceCloseConnections: 'idle'
}

export type AppOptions = ConfigOptions

const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  await fastify.register(config, opts)
  await fastify.register(validation)
  await fastify.register(errors)
  // Before anything that may refuse a WebSocket upgrade.
  await fastify.register(broadcaster)
  await fastify.register(security)
  await fastify.register(docs)
  await fastify.register(asyncapi)
  await fastify.register(store)
  await fastify.register(publisher)
  await fastify.register(ticker)

  await fastify.register(alerts)
  await fastify.register(messages)
  await fastify.register(ws)
}

export default app

/**
 * A Fastify instance with the app registered at its root (so decorators such as
 * `config` are visible to the caller). server.ts and the tests both use this.
 */
export function build (logger: FastifyServerOptions['logger'], opts: AppOptions = {}): FastifyInstance {
  const fastify = Fastify({ ...options, logger })
  void fastify.register(fp(app), opts)
  return fastify
}
