import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import { commaList } from '../app/config'

/** CORS for the HTTP API, from the original service's CORS_* variables. */
export default fp(async function corsHeaders (fastify) {
  const { CORS_ORIGINS_ALLOWED, CORS_CREDENTIAL, CORS_METHODS_ALLOWED, CORS_HEADERS_ALLOWED } = fastify.config
  const origins = commaList(CORS_ORIGINS_ALLOWED)
  await fastify.register(cors, {
    // With credentials a literal "*" is refused by browsers, so the caller's origin is echoed instead.
    origin: origins.includes('*') ? (CORS_CREDENTIAL ? true : '*') : origins,
    credentials: CORS_CREDENTIAL,
    methods: commaList(CORS_METHODS_ALLOWED),
    allowedHeaders: commaList(CORS_HEADERS_ALLOWED)
  })
}, { name: 'cors', fastify: '5.x', dependencies: ['config'] })
