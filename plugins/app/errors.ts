import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { httpError } from '../../schemas/errors'
import { BackendUnavailableError, OutcomeUnknownError } from '../core/errors'

// One error shape for every failure: {statusCode, error, message}.
export default fp(async function errors (fastify) {
  fastify.setErrorHandler((caught: FastifyError, request, reply) => {
    let err = caught
    // Domain errors of the backend, in HTTP terms.
    if (caught instanceof BackendUnavailableError) {
      reply.header('retry-after', '5')
      err = httpError(503, 'Redis is unavailable; try again later', { cause: caught }) as FastifyError
    } else if (caught instanceof OutcomeUnknownError) {
      err = httpError(503, 'Redis did not answer in time: the event may have been stored and sent; check before retrying', { cause: caught }) as FastifyError
    }
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    // A 503 is a state the server reports (overloaded, full, Redis away), not a fault.
    if (statusCode === 503) request.log.warn({ err }, 'service unavailable')
    else if (statusCode >= 500) request.log.error({ err }, 'request failed')
    const message = statusCode >= 500 && statusCode !== 503
      ? 'Internal Server Error'
      : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; send application/json`
        : err.message
    reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message })
  })

  fastify.setNotFoundHandler((request) => {
    throw httpError(404, `Route ${request.method}:${request.url} not found`)
  })
}, { name: 'errors', fastify: '5.x' })
