import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'

// One error shape for every failure: {statusCode, error, message}.
// 4xx messages go to the client; 5xx details go to the log only.
export default fp(async function errors (fastify) {
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (statusCode >= 500) {
      request.log.error({ err }, 'request failed')
    }
    const message = statusCode >= 500 && statusCode !== 503
      ? 'Internal Server Error'
      : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; send application/json`
        : err.message
    reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message })
  })

  fastify.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method}:${request.url} not found` })
  })
}, { name: 'errors' })
