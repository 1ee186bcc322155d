import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'

/**
 * An error that the error handler answers with this status, in the one error
 * shape. Its message reaches the client for a 4xx or a 503 (say what to fix,
 * or that it is worth retrying); any other 5xx is logged, not shown.
 */
export function httpError (statusCode: number, message: string, options?: ErrorOptions): Error & { statusCode: number } {
  return Object.assign(new Error(message, options), { statusCode })
}

// One error shape for every failure: {statusCode, error, message}.
export default fp(async function errors (fastify) {
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
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
}, { name: 'errors' })
