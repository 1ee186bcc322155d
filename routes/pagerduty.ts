import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError } from 'fastify'
import { PagerDutyAccepted, PagerDutyEvent, PagerDutyInvalid, type PagerDutyInvalid as Invalid } from '../schemas/integrations'
import { ErrorResponse, httpError, publishErrors, type ErrorCode } from '../schemas/errors'
import { describeError } from '../plugins/app/errors'
import { enqueue } from '../plugins/core/pagerduty'

// PagerDuty takes events up to 512 KB; a sender may fill custom_details that far.
const BODY_LIMIT = 512 * 1024

// A credential that cannot do what the event asks is, to a PagerDuty sender, a
// routing key that does not work: answered as PagerDuty answers one (400, not
// retried), with this server's code beside it.
const CREDENTIAL_CODES: ReadonlySet<ErrorCode> = new Set(['TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'SCOPE_MISSING'])

const invalid = (code: ErrorCode, error: string): Invalid => ({ status: 'invalid event', message: 'Event object is invalid', errors: [error], code })

// 429 and 5xx keep the service's one error shape: senders read only their status (and retry).
const { 401: _unauthorized, 403: _forbidden, 422: _noIdempotency, ...otherErrors } = publishErrors

const pagerduty: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, allows } = fastify

  // Senders retry on 429 and 5xx and drop an event answered 400 (Alertmanager,
  // Grafana, PagerDuty's own libraries), so refusals are in PagerDuty's shape;
  // anything else goes to the service's error handler, thrown on to it.
  fastify.setErrorHandler((caught: FastifyError, request, reply) => {
    const { code, message, statusCode } = describeError(caught, request.headers['content-type'])
    if (CREDENTIAL_CODES.has(code)) {
      reply.removeHeader('www-authenticate')
      return reply.code(400).send(invalid(code, code === 'SCOPE_MISSING' ? `Invalid routing key: ${message}` : 'Invalid routing key'))
    }
    if (statusCode === 400) return reply.code(400).send(invalid(code, message))
    throw caught
  })

  fastify.post('/v2/enqueue', {
    bodyLimit: BODY_LIMIT,
    // The token is the body's routing_key; each event counts against its
    // credential's publish budget, so the count waits for the credential.
    config: { scope: 'publish', bodyToken: 'routing_key', rateLimit: { hook: 'preHandler' } },
    schema: {
      tags: ['integrations'],
      summary: 'PagerDuty Events API v2, compatible',
      description: 'Point any tool that sends to PagerDuty (Alertmanager\'s pagerduty_configs, Grafana\'s PagerDuty contact point, Zabbix, Uptime Kuma, ...) ' +
        'at this server\'s base URL; it posts here. The routing key is a token of this server: publish scope to trigger, operate too to acknowledge ' +
        'or resolve. trigger raises the alert with key pagerduty:<dedup_key> and source "pagerduty" (or repeats the open one): summary is the message, ' +
        'source (else component, else client) the location, severity critical or error is critical, warning is warning, info is info; the first http(s) link ' +
        '(else client_url) the link; component, group and class the tags; custom_details the details. acknowledge and resolve act on the open alert ' +
        'with that key, by the token\'s name; with none open they are taken and change nothing, as PagerDuty does. Answered as PagerDuty answers: ' +
        '202 with the dedup_key, 400 for an invalid event or routing key, 429 over the rate limit.',
      body: PagerDutyEvent,
      response: {
        202: PagerDutyAccepted,
        ...otherErrors,
        400: PagerDutyInvalid,
        413: { ...ErrorResponse, description: 'Body over 512 KiB.' }
      }
    }
  }, async (request, reply) => {
    const event = request.body
    if (event.event_action !== 'trigger' && !allows(request, 'operate')) {
      throw httpError('SCOPE_MISSING', `${event.event_action} needs the operate scope, which this token does not have`)
    }
    const dedupKey = await enqueue(event, publisher, request.identity?.name ?? 'pagerduty')
    return await reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: dedupKey })
  })
}

export default pagerduty
