import createError, { type FastifyErrorConstructor } from '@fastify/error'
import { Type, type Static, type TObject } from '@sinclair/typebox'
import { STATUS_CODES } from 'node:http'

/**
 * Every error an HTTP response can carry, by its machine-readable code: the
 * status it is answered with and a message as a client would see it (the
 * OpenAPI examples). Codes are stable; messages are for people and may change.
 */
const catalogue = {
  BAD_REQUEST: [400, 'the request is not valid HTTP for this server'],
  VALIDATION_FAILED: [400, 'body/location is required'],
  INVALID_JSON: [400, 'Body is not valid JSON but content-type is set to \'application/json\''],
  INVALID_UTF8: [400, 'body is not valid UTF-8'],
  INVALID_PREFLIGHT: [400, 'a CORS preflight needs Origin and Access-Control-Request-Method headers'],
  INVALID_WEBSOCKET_HANDSHAKE: [400, 'Missing or invalid Sec-WebSocket-Key header'],
  TOKEN_REQUIRED: [401, 'a token is required: send Authorization: Bearer <token>'],
  TOKEN_INVALID: [401, 'the token is not valid'],
  TOKEN_EXPIRED: [401, 'the token has expired; get a fresh one'],
  SCOPE_MISSING: [403, 'this needs the publish scope, which this token does not have'],
  ORIGIN_NOT_ALLOWED: [403, 'origin https://elsewhere.example is not allowed'],
  ACTION_LINK_INVALID: [403, 'this link is not valid: it was changed, or it is for another alert or action'],
  NOT_FOUND: [404, 'Route GET:/nowhere not found'],
  ALERT_NOT_FOUND: [404, 'no alert with id 7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8'],
  HEARTBEAT_NOT_FOUND: [404, 'no heartbeat monitor named nightly-backup'],
  SILENCE_NOT_FOUND: [404, 'no silence with id 3f1c2a9e-1b7d-4c55-9a51-0c8e2d5b7f10'],
  ALERT_CONFLICT: [409, 'the alert is resolved; raise it again to reopen it'],
  ACTION_ALREADY_DONE: [409, 'the alert was already acknowledged by ana; nothing changed'],
  HEARTBEATS_FULL: [409, 'there are 1000 heartbeat monitors, the most allowed (HEARTBEATS_MAX); remove one first'],
  ACTION_LINK_EXPIRED: [410, 'this link expired at 2026-01-02T12:00:00.000Z; open the alert on the dashboard'],
  INVALID_SCHEDULE: [400, 'schedule "0 25 * * *" is not a cron expression: CronPattern: Invalid value for hour: 25'],
  NOT_ON_REDIS: [409, 'this server keeps its events in an SQLite file, not in Redis: there is no Redis wipe to confirm'],
  INVALID_QUERY: [400, 'querystring/state must be a comma list of open, acknowledged, resolved; got "closed"'],
  REQUEST_TIMEOUT: [408, 'the request was not received in time'],
  BODY_TOO_LARGE: [413, 'Request body is too large'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'Content-Type "text/plain" is not supported; send application/json'],
  UNSUPPORTED_CHARSET: [415, 'charset "latin1" is not supported; send JSON in UTF-8 (application/json; charset=utf-8)'],
  // As the IETF Idempotency-Key draft: a key reused with another payload is 422.
  IDEMPOTENCY_CONFLICT: [422, 'this Idempotency-Key was already used for a different request'],
  UPGRADE_REQUIRED: [426, 'GET /ws is a WebSocket endpoint; connect with a WebSocket client'],
  RATE_LIMITED: [429, 'rate limit of 300 requests per 1 minute reached; retry in 1 minute'],
  ADDRESS_CONNECTION_LIMIT: [429, 'this address has 50 open WebSocket connections, the most allowed; close one first'],
  AUTH_RATE_LIMITED: [429, 'too many failed authentications from this address; retry in 60 s'],
  HEADERS_TOO_LARGE: [431, 'the request headers are too large'],
  INTERNAL_ERROR: [500, 'Internal Server Error'],
  OVERLOADED: [503, 'the server is overloaded; retry later'],
  CONNECTION_LIMIT: [503, 'connection limit (10000) reached; retry later'],
  BACKEND_UNAVAILABLE: [503, 'Redis is unavailable; try again later'],
  BOARD_FULL: [503, 'the board is full: OPEN_ALERTS_MAX alerts are not resolved, and none that may be dropped for room (open, not acknowledged, not critical) is as or less severe than this one; resolve some'],
  STORAGE_UNAVAILABLE: [503, 'the database cannot be written now (the disk is full?); nothing was stored, try again later'],
  // 504, not 503: the backend (an upstream) did not answer in time, and a 503
  // tells clients and proxies that nothing happened and a retry is safe.
  OUTCOME_UNKNOWN: [504, 'Redis did not answer in time: the event may have been stored and sent; retry with the same Idempotency-Key, or check before retrying']
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof catalogue
export const ERROR_CODES = Object.keys(catalogue) as ErrorCode[]

export const statusOf = (code: ErrorCode): number => catalogue[code][0]
/** The code's message, as answered when nothing more particular is said. */
export const messageOf = (code: ErrorCode): string => catalogue[code][1]

// One @fastify/error class per code: `err.code` and `err.statusCode` are what
// the error handler answers with, and `instanceof` tells them apart.
const classes = Object.fromEntries(ERROR_CODES.map((code) => [code, createError(code, '%s', statusOf(code))])) as
  Record<ErrorCode, FastifyErrorConstructor<{ code: ErrorCode, statusCode: number }, [string, { cause: unknown }?]>>

export type HttpError = InstanceType<(typeof classes)[ErrorCode]>

/**
 * An error that the error handler answers with its code's status, in the one
 * error shape. Its message reaches the client for a 4xx, 503 or 504 (say what
 * to fix, or whether it is worth retrying); any other 5xx is logged, not shown.
 */
export function httpError (code: ErrorCode, message: string, options?: { cause: unknown }): HttpError {
  return options === undefined ? new classes[code](message) : new classes[code](message, options)
}

export function isHttpError (err: unknown): err is HttpError {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && Object.hasOwn(classes, code) && err instanceof classes[code as ErrorCode]
}

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODES, description: 'What went wrong, for programs: stable across versions.' }),
  error: Type.String({ description: 'The status\'s name.' }),
  message: Type.String({ description: 'What went wrong, for people.' })
}, { description: 'Every error has this shape.' })
export type ErrorResponse = Static<typeof ErrorResponse>

/** The body a client gets for an error with this code and message. */
export function errorBody (code: ErrorCode, message: string = catalogue[code][1], statusCode: number = statusOf(code)): ErrorResponse {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/** One response of the OpenAPI document: the error shape, with an example per code it can carry. */
function response (description: string, ...codes: ErrorCode[]): TObject {
  return { ...ErrorResponse, description, examples: codes.map((code) => errorBody(code)) }
}

// The error responses every API route can give.
export const apiErrors = {
  401: response('Credentials are configured and the request has no valid bearer token.', 'TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED'),
  403: response('The token is valid but lacks the scope the route needs.', 'SCOPE_MISSING'),
  429: response('Too many wrong tokens from this address (AUTH_FAILURE_MAX); see Retry-After.', 'AUTH_RATE_LIMITED'),
  503: response('Overloaded, (with Redis) Redis unreachable, or (with SQLite) the database file cannot be written; see Retry-After.', 'OVERLOADED', 'BACKEND_UNAVAILABLE', 'STORAGE_UNAVAILABLE')
}

// And those of the publishing routes.
export const publishErrors = {
  ...apiErrors,
  400: response('Missing, blank, too long or wrong-typed field, broken JSON, a body that is not UTF-8, or a malformed Idempotency-Key.', 'VALIDATION_FAILED', 'INVALID_JSON', 'INVALID_UTF8'),
  408: response('The request was not received within REQUEST_TIMEOUT_MS; the connection is closed.', 'REQUEST_TIMEOUT'),
  413: response('Body over 64 KiB.', 'BODY_TOO_LARGE'),
  415: response('Content-Type is not application/json, or its charset is not UTF-8.', 'UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_CHARSET'),
  422: response('The Idempotency-Key was already used for a different request.', 'IDEMPOTENCY_CONFLICT'),
  429: response('Over the rate limit, or too many wrong tokens from this address; see Retry-After.', 'RATE_LIMITED', 'AUTH_RATE_LIMITED'),
  503: response('Overloaded, (with Redis) Redis unreachable, (with SQLite) the database file cannot be written, or the board is full (OPEN_ALERTS_MAX) with no alert that may go for this one; see Retry-After.', 'OVERLOADED', 'BACKEND_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'BOARD_FULL'),
  504: response('With Redis: Redis did not answer in time, so the event may or may not have been stored and sent. Retry with the same Idempotency-Key (safe), or check the history before sending it again.', 'OUTCOME_UNKNOWN')
}

// Those of POST /admin/redis/confirm-wipe.
export const confirmWipeErrors = {
  ...apiErrors,
  409: response('The server does not run on Redis.', 'NOT_ON_REDIS')
}

// The WebSocket upgrade's refusals.
export const upgradeErrors = {
  ...apiErrors,
  400: response('Not a valid WebSocket handshake, or a filter or since the server cannot read.', 'INVALID_WEBSOCKET_HANDSHAKE', 'INVALID_QUERY'),
  403: response('The token lacks the subscribe scope, or CORS_ORIGINS_ALLOWED is a list and the page\'s Origin is not on it.', 'SCOPE_MISSING', 'ORIGIN_NOT_ALLOWED'),
  426: response('A plain GET, not a WebSocket upgrade.', 'UPGRADE_REQUIRED'),
  429: response('Over the rate limit, too many wrong tokens from this address, or WS_MAX_CONNECTIONS_PER_ADDRESS open connections from it; see Retry-After.', 'RATE_LIMITED', 'AUTH_RATE_LIMITED', 'ADDRESS_CONNECTION_LIMIT'),
  503: response('Overloaded, at WS_MAX_CONNECTIONS, or (with Redis) Redis unreachable; see Retry-After.', 'OVERLOADED', 'CONNECTION_LIMIT', 'BACKEND_UNAVAILABLE')
}

// The refusals of GET /events, before the stream starts.
export const streamErrors = {
  ...apiErrors,
  400: response('A filter or since the server cannot read, or a wrong-typed parameter.', 'INVALID_QUERY', 'VALIDATION_FAILED'),
  403: response('CORS_ORIGINS_ALLOWED is a list and the page\'s Origin is not on it.', 'ORIGIN_NOT_ALLOWED'),
  429: response('Over the rate limit, too many wrong tokens from this address, or WS_MAX_CONNECTIONS_PER_ADDRESS open connections and streams from it; see Retry-After.', 'RATE_LIMITED', 'AUTH_RATE_LIMITED', 'ADDRESS_CONNECTION_LIMIT'),
  503: response('Overloaded, at WS_MAX_CONNECTIONS, or (with Redis) Redis unreachable; see Retry-After.', 'OVERLOADED', 'CONNECTION_LIMIT', 'BACKEND_UNAVAILABLE')
}

// And those of acknowledge and resolve.
export const lifecycleErrors = {
  404: response('No retained alert has this id, or no open alert has this key.', 'ALERT_NOT_FOUND'),
  409: response('Not allowed in the alert\'s state: a resolved alert cannot be acknowledged.', 'ALERT_CONFLICT')
}

// And those of the signed links of notifications (no token: the link is the credential).
export const actionLinkErrors = {
  403: response('The link is not valid: its signature does not hold (changed, or another alert\'s or action\'s link).', 'ACTION_LINK_INVALID'),
  404: response('No retained alert has this id.', 'ALERT_NOT_FOUND'),
  409: response('Nothing to do: the alert is already acknowledged (or resolved), or a resolved alert cannot be acknowledged.', 'ACTION_ALREADY_DONE', 'ALERT_CONFLICT'),
  410: response('The link expired (ACTION_TTL after the notification was sent).', 'ACTION_LINK_EXPIRED'),
  503: response('Overloaded, or the store cannot be read or written now; see Retry-After.', 'OVERLOADED', 'BACKEND_UNAVAILABLE', 'STORAGE_UNAVAILABLE')
}

// And those of the board's query.
export const queryErrors = {
  400: response('A filter value the server does not know, a limit out of range, or a cursor it did not give out.', 'INVALID_QUERY', 'VALIDATION_FAILED')
}
