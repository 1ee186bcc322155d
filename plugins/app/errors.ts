import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { errorBody, httpError, isHttpError, type ErrorCode, type ErrorResponse } from '../../schemas/errors'
import { redactUrlToken } from '../core/redact'
import { AlertConflictError, AlertNotFoundError, BackendUnavailableError, BoardFullError, HeartbeatsFullError, IdempotencyConflictError, InvalidScheduleError, OutcomeUnknownError, StorageUnavailableError } from '../core/errors'
import { writeError } from '../core/socket-error'

// Fastify's and its plugins' own errors, by their code, in this service's codes:
// clients see one vocabulary, which does not change with a framework upgrade.
const FOREIGN_CODES: Record<string, ErrorCode> = {
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_UNDER_PRESSURE: 'OVERLOADED'
}

/** Any error, as the client is to see it: its code, status and message. */
export function describeError (caught: FastifyError, contentType?: string): ErrorResponse & { cause: Error } {
  // Domain errors of the backend, in HTTP terms.
  if (caught instanceof BackendUnavailableError) return { ...errorBody('BACKEND_UNAVAILABLE'), cause: caught }
  if (caught instanceof StorageUnavailableError) return { ...errorBody('STORAGE_UNAVAILABLE'), cause: caught }
  if (caught instanceof BoardFullError) return { ...errorBody('BOARD_FULL'), cause: caught }
  if (caught instanceof OutcomeUnknownError) return { ...errorBody('OUTCOME_UNKNOWN'), cause: caught }
  if (caught instanceof IdempotencyConflictError) return { ...errorBody('IDEMPOTENCY_CONFLICT', caught.message), cause: caught }
  if (caught instanceof AlertNotFoundError) return { ...errorBody('ALERT_NOT_FOUND', caught.message), cause: caught }
  if (caught instanceof AlertConflictError) return { ...errorBody('ALERT_CONFLICT', caught.message), cause: caught }
  if (caught instanceof HeartbeatsFullError) return { ...errorBody('HEARTBEATS_FULL', caught.message), cause: caught }
  if (caught instanceof InvalidScheduleError) return { ...errorBody('INVALID_SCHEDULE', caught.message), cause: caught }
  if (isHttpError(caught)) return { ...errorBody(caught.code, caught.message, caught.statusCode), cause: caught }
  const status = caught.statusCode !== undefined && caught.statusCode >= 400 && caught.statusCode < 600 ? caught.statusCode : 500
  if (status >= 500 && caught.code !== 'FST_UNDER_PRESSURE') return { ...errorBody('INTERNAL_ERROR', 'Internal Server Error', status), cause: caught }
  // A JSON syntax error from the body parser carries a status and no code.
  const code = FOREIGN_CODES[caught.code] ?? (caught instanceof SyntaxError && status === 400 ? 'INVALID_JSON' : 'BAD_REQUEST')
  const message = code === 'UNSUPPORTED_MEDIA_TYPE'
    ? `Content-Type ${JSON.stringify(contentType ?? '')} is not supported; send application/json`
    : caught.message
  return { ...errorBody(code, message, status), cause: caught }
}

// Node's refusals: a request not received within REQUEST_TIMEOUT_MS, headers
// too large; anything else (a broken request line) is a bad request.
const CLIENT_ERRORS: Record<string, ErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE'
}

// The response in flight on each connection: a client error is answered only
// where no response has started, as Node does, so as not to corrupt one.
const responses = new WeakMap<Duplex, ServerResponse>()

/** Fastify's clientErrorHandler: Node's own refusals of a connection, in the one shape. */
export function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const code = CLIENT_ERRORS[err.code ?? ''] ?? 'BAD_REQUEST'
  this.log.debug({ err }, 'client error')
  if (socket.writable && responses.get(socket)?.headersSent !== true) {
    writeError(socket, errorBody(code, code === 'BAD_REQUEST' ? 'the request is not valid HTTP' : undefined))
  } else {
    socket.destroy()
  }
}

// One error shape for every failure: {statusCode, code, error, message}.
export default fp(async function errors (fastify) {
  fastify.setErrorHandler((caught: FastifyError, request, reply) => {
    const { cause, ...body } = describeError(caught, request.headers['content-type'])
    // A message may quote the URL (a 404, a malformed path): never a token in it.
    body.message = redactUrlToken(body.message)
    const { statusCode } = body
    if (body.code === 'BACKEND_UNAVAILABLE' || body.code === 'STORAGE_UNAVAILABLE') reply.header('retry-after', '5')
    if (body.code === 'BOARD_FULL') reply.header('retry-after', '60')
    // A 503 or 504 is a state the server reports (overloaded, full, Redis away or slow), not a fault.
    if (statusCode === 503 || statusCode === 504) request.log.warn({ err: cause }, 'service unavailable')
    else if (statusCode >= 500) request.log.error({ err: cause }, 'request failed')
    reply.code(statusCode).send(body)
  })

  fastify.setNotFoundHandler((request) => {
    throw httpError('NOT_FOUND', `Route ${request.method}:${redactUrlToken(request.url)} not found`)
  })

  fastify.server.on('request', (req: IncomingMessage, res: ServerResponse) => { responses.set(req.socket, res) })
}, { name: 'errors', fastify: '5.x' })
