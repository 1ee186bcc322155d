import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import { commaList } from '../../schemas/config'
import { httpError } from '../../schemas/errors'

/** CORS for the HTTP API, from the original service's CORS_* variables. */
export default fp(async function corsHeaders (fastify) {
  const { CORS_ORIGINS_ALLOWED, CORS_CREDENTIAL, CORS_METHODS_ALLOWED, CORS_HEADERS_ALLOWED } = fastify.config
  const origins = commaList(CORS_ORIGINS_ALLOWED)
  // @fastify/cors answers a preflight without these headers with a text/plain
  // 400; the same refusal, before it, in the one error shape.
  fastify.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS' && (request.headers.origin === undefined || request.headers['access-control-request-method'] === undefined)) {
      throw httpError('INVALID_PREFLIGHT', 'a CORS preflight (OPTIONS) needs Origin and Access-Control-Request-Method headers')
    }
  })
  await fastify.register(cors, {
    // With credentials a literal "*" is refused by browsers, so the caller's origin is echoed instead.
    origin: origins.includes('*') ? (CORS_CREDENTIAL ? true : '*') : origins,
    credentials: CORS_CREDENTIAL,
    methods: commaList(CORS_METHODS_ALLOWED),
    allowedHeaders: commaList(CORS_HEADERS_ALLOWED),
    // A page of another origin may read which fields of its request were ignored.
    exposedHeaders: ['Ignored-Fields']
  })
}, { name: 'cors', fastify: '5.x', dependencies: ['config'] })
