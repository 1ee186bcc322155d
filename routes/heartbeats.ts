import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HeartbeatList, HeartbeatListQuery, HeartbeatName, HeartbeatQuery, HeartbeatView } from '../schemas/integrations'
import { apiErrors, errorBody, ErrorResponse, httpError, publishErrors, queryErrors } from '../schemas/errors'
import type { HeartbeatMonitor, HeartbeatSettings } from '../plugins/core/backend'
import { deadlineOf, decodeHeartbeatCursor, heartbeatPage, stateOf } from '../plugins/core/heartbeats'
import { formatDuration, parseDuration } from '../plugins/core/duration'
import { repeatedParameters } from './shared'

const YEAR_MS = 365 * 86_400_000

/** A duration of the query string in milliseconds, refused outside [min, 365d]. */
function durationOf (name: 'every' | 'grace', text: string | undefined, minMs: number): number | undefined {
  if (text === undefined) return undefined
  const ms = parseDuration(text) as number
  if (ms < minMs || ms > YEAR_MS) throw httpError('INVALID_QUERY', `querystring/${name} must be between ${formatDuration(minMs)} and 365d; got ${text}`)
  return ms
}

export function viewOf (monitor: HeartbeatMonitor, now: number): HeartbeatView {
  return {
    name: monitor.name,
    every: formatDuration(monitor.everyMs),
    grace: formatDuration(monitor.graceMs),
    severity: monitor.severity,
    location: monitor.location,
    lastPing: new Date(monitor.lastPing).toISOString(),
    due: new Date(deadlineOf(monitor)).toISOString(),
    state: stateOf(monitor, now)
  }
}

const notFound = { ...ErrorResponse, description: 'No monitor has this name.', examples: [errorBody('HEARTBEAT_NOT_FOUND')] }

// A ping's body is ignored, whatever its type (no 415), and it takes no Idempotency-Key (no 422).
const { 415: _anyBody, 422: _noKey, ...pingErrors } = publishErrors

const heartbeats: FastifyPluginAsyncTypebox = async (fastify) => {
  // No body is needed and one is ignored, whatever its type (a cron line's
  // `curl -d …` sends a form): read (up to the body limit) and dropped.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
  const { heartbeats: monitors, timers } = fastify

  fastify.post('/heartbeats/:name', {
    config: { scope: 'publish' },
    schema: {
      tags: ['integrations'],
      summary: 'Ping a heartbeat monitor (created by the first ping)',
      description: 'A cron job or a backup calls this each time it succeeds: `curl -fsS -X POST .../heartbeats/nightly-backup?every=1d`. ' +
        'When no ping comes within every + grace, an alert is raised (key heartbeat:<name>, source heartbeat), once per miss for ' +
        'the whole cluster; the next ping resolves it. Settings left out keep their values (defaults: every 5m, grace 1m, ' +
        'severity critical, location the name). No body is needed.',
      params: HeartbeatName,
      querystring: HeartbeatQuery,
      response: { 200: HeartbeatView, ...pingErrors, 400: { ...publishErrors[400], ...queryErrors[400], description: 'A name, duration, severity or location that is not valid.' } }
    },
    preValidation: repeatedParameters()
  }, async (request) => {
    const { every, grace, severity, location } = request.query
    const settings: Partial<HeartbeatSettings> = {}
    const everyMs = durationOf('every', every, 1000)
    const graceMs = durationOf('grace', grace, 0)
    if (everyMs !== undefined) settings.everyMs = everyMs
    if (graceMs !== undefined) settings.graceMs = graceMs
    if (severity !== undefined) settings.severity = severity
    if (location !== undefined) settings.location = location
    return viewOf(await monitors.ping(request.params.name, settings), timers.now())
  })

  fastify.get('/heartbeats', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['integrations'],
      summary: 'Heartbeat monitors, by name, with their state',
      description: 'Without limit or cursor, every monitor. With ?limit= (1 to 1000), a page by name and `next` when more follow; ' +
        'pass it as ?cursor= for the next page. A monitor added or removed between pages is seen or missed as its name falls, none twice.',
      querystring: HeartbeatListQuery,
      response: { 200: HeartbeatList, ...apiErrors, ...queryErrors }
    },
    preValidation: repeatedParameters()
  }, async (request) => {
    const { limit, cursor } = request.query
    const after = cursor === undefined ? undefined : decodeHeartbeatCursor(cursor)
    if (cursor !== undefined && after === undefined) throw httpError('INVALID_QUERY', 'querystring/cursor is not a cursor this server gave out')
    const now = timers.now()
    const all = await monitors.list()
    // A client of before paging asks for neither and gets every monitor, as it did.
    const { monitors: page, next } = limit === undefined && cursor === undefined ? { monitors: all } : heartbeatPage(all, limit ?? 100, after)
    const list = page.map((monitor) => viewOf(monitor, now))
    return { heartbeats: list, count: list.length, ...(next === undefined ? {} : { next }) }
  })

  // Removing a monitor resolves its alert and ends its watch: an operator's
  // act, not a publisher's (a ping is).
  fastify.delete('/heartbeats/:name', {
    config: { scope: 'operate' },
    schema: {
      tags: ['integrations'],
      summary: 'Remove a heartbeat monitor (resolving its alert)',
      params: HeartbeatName,
      response: { 200: HeartbeatView, ...apiErrors, 404: notFound, 400: publishErrors[400] }
    }
  }, async (request) => {
    const monitor = await monitors.remove(request.params.name)
    if (monitor === undefined) throw httpError('HEARTBEAT_NOT_FOUND', `no heartbeat monitor named ${request.params.name}`)
    return viewOf(monitor, timers.now())
  })
}

export default heartbeats
