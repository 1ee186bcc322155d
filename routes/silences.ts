import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import { apiErrors, ErrorResponse, errorBody, httpError } from '../schemas/errors'
import { SilenceId, SilenceInput, Silences, SilenceView, type SilenceView as View } from '../schemas/silences'
import type { Silence } from '../plugins/core/backend'
import { parseAlertFilter } from '../plugins/core/board'
import { parseDateTime, parseDuration } from '../plugins/core/duration'
import { inForce } from '../plugins/core/silences'
import { actor } from './shared'

const iso = (ms: number): string => new Date(ms).toISOString()
const invalid = { ...ErrorResponse, description: 'The body is not a valid silence.', examples: [errorBody('VALIDATION_FAILED', 'body/endsAt must be after startsAt')] }
const notFound = { ...ErrorResponse, description: 'No silence has this id (it ended, or never was).', examples: [errorBody('SILENCE_NOT_FOUND')] }

const silences: FastifyPluginAsyncTypebox = async (fastify) => {
  const control = fastify.notifications.silences
  const { timers } = fastify
  const view = (silence: Silence): View => ({
    id: silence.id,
    match: silence.match,
    startsAt: iso(silence.startsAt),
    endsAt: iso(silence.endsAt),
    comment: silence.comment,
    by: silence.by,
    createdAt: iso(silence.createdAt),
    active: inForce(silence, timers.now())
  })

  fastify.post('/silences', {
    config: { scope: 'operate' },
    schema: {
      tags: ['alerts'],
      summary: 'Silence the notifications of the alerts a match takes, for a while',
      description: 'Alerts are still raised, stored, streamed and shown; no NOTIFY_FILE route notifies them until the silence ends. When it ends (or is deleted), those still open and not acknowledged are notified once. ' +
        'Give endsAt or duration; startsAt defaults to now.',
      body: SilenceInput,
      response: { 201: SilenceView, 400: invalid, ...apiErrors }
    }
  }, async (request, reply) => {
    const { match, startsAt, endsAt, duration, comment, by } = request.body
    if (Object.keys(match).length === 0) throw httpError('VALIDATION_FAILED', 'body/match must have at least one of state, severity, min_severity, location, key, tag')
    const filter = parseAlertFilter(match)
    if (typeof filter === 'string') throw httpError('VALIDATION_FAILED', filter.replace('querystring/', 'body/match/'))
    const now = timers.now()
    const start = startsAt === undefined ? now : parseDateTime(startsAt)
    if (start === undefined) throw httpError('VALIDATION_FAILED', 'body/startsAt must be an ISO 8601 date-time with its zone')
    if ((endsAt === undefined) === (duration === undefined)) throw httpError('VALIDATION_FAILED', 'body must have endsAt or duration (one of them)')
    const end = endsAt !== undefined ? parseDateTime(endsAt) : start + (parseDuration(duration ?? '') ?? 0)
    if (end === undefined) throw httpError('VALIDATION_FAILED', 'body/endsAt must be an ISO 8601 date-time with its zone')
    if (end <= start) throw httpError('VALIDATION_FAILED', `body/${endsAt !== undefined ? 'endsAt' : 'duration'} must end after startsAt`)
    if (end <= now) throw httpError('VALIDATION_FAILED', 'body/endsAt is in the past: the silence would never be in force')
    const silence: Silence = { id: randomUUID(), match, startsAt: start, endsAt: end, comment, by: actor(request, by), createdAt: now }
    await control.add(silence)
    return await reply.code(201).send(view(silence))
  })

  fastify.get('/silences', {
    config: { scope: 'operate' },
    schema: {
      tags: ['alerts'],
      summary: 'Silences not ended yet (in force, or starting later)',
      response: { 200: Silences, ...apiErrors }
    }
  }, async () => {
    const list = control.list().map(view)
    return { silences: list, count: list.length }
  })

  fastify.delete('/silences/:id', {
    config: { scope: 'operate' },
    schema: {
      tags: ['alerts'],
      summary: 'End a silence now',
      description: 'The alerts it held that are still open and not acknowledged are notified once.',
      params: SilenceId,
      response: { 200: SilenceView, 404: notFound, ...apiErrors }
    }
  }, async (request) => {
    const ended = await control.end(request.params.id.toLowerCase())
    if (ended === undefined) throw httpError('SILENCE_NOT_FOUND', `no silence with id ${request.params.id}`)
    return { ...view(ended), endsAt: iso(Math.min(ended.endsAt, timers.now())), active: false }
  })
}

export default silences
