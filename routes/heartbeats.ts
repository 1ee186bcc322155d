import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { HeartbeatDetail, HeartbeatList, HeartbeatListQuery, HeartbeatName, HeartbeatQuery, HeartbeatSignalParams, HeartbeatView, type HeartbeatPingView } from '../schemas/integrations'
import { apiErrors, errorBody, ErrorResponse, httpError, publishErrors, queryErrors } from '../schemas/errors'
import type { HeartbeatMonitor, HeartbeatPing } from '../plugins/core/backend'
import { deadlineOf, decodeHeartbeatCursor, heartbeatPage, stateOf, type HeartbeatChange, type HeartbeatSignal } from '../plugins/core/heartbeats'
import { formatDuration, parseDuration } from '../plugins/core/duration'
import { clientAddress } from '../plugins/app/requests'
import { repeatedParameters } from './shared'

const YEAR_MS = 365 * 86_400_000

/** A duration of the query string in milliseconds, refused outside [min, 365d]. */
function durationOf (name: 'every' | 'grace', text: string | undefined, minMs: number): number | undefined {
  if (text === undefined) return undefined
  const ms = parseDuration(text) as number
  if (ms < minMs || ms > YEAR_MS) throw httpError('INVALID_QUERY', `querystring/${name} must be between ${formatDuration(minMs)} and 365d; got ${text}`)
  return ms
}

/** The settings a ping's query string changes; `every` and `schedule` exclude each other. */
function changeOf ({ every, grace, schedule, tz, severity, location }: HeartbeatQuery): HeartbeatChange {
  if (every !== undefined && schedule !== undefined) throw httpError('INVALID_QUERY', 'querystring has both every and schedule; give one: every for a period, schedule for a cron expression')
  const change: HeartbeatChange = {}
  const everyMs = durationOf('every', every, 1000)
  const graceMs = durationOf('grace', grace, 0)
  if (everyMs !== undefined) change.everyMs = everyMs
  if (graceMs !== undefined) change.graceMs = graceMs
  if (schedule !== undefined) change.schedule = schedule
  if (tz !== undefined) change.tz = tz
  if (severity !== undefined) change.severity = severity
  if (location !== undefined) change.location = location
  return change
}

/** What the last segment of a ping URL says. */
function signalOf (segment: string, request: FastifyRequest): HeartbeatSignal {
  const from = { source: clientAddress(request), ...(request.headers['user-agent'] === undefined ? {} : { userAgent: request.headers['user-agent'] }) }
  if (segment === 'ping') return { kind: 'success', ...from }
  if (segment === 'start' || segment === 'fail') return { kind: segment, ...from }
  const exitStatus = Number(segment)
  return { kind: exitStatus === 0 ? 'success' : 'fail', exitStatus, ...from }
}

export function viewOf (monitor: HeartbeatMonitor, now: number): HeartbeatView {
  const view: HeartbeatView = {
    name: monitor.name,
    every: formatDuration(monitor.everyMs),
    grace: formatDuration(monitor.graceMs),
    severity: monitor.severity,
    location: monitor.location,
    lastPing: new Date(monitor.lastPing).toISOString(),
    due: new Date(deadlineOf(monitor)).toISOString(),
    state: stateOf(monitor, now)
  }
  if (monitor.schedule !== undefined) {
    view.schedule = monitor.schedule
    view.tz = monitor.tz ?? 'UTC'
  }
  if (monitor.startedAt !== undefined) view.startedAt = new Date(monitor.startedAt).toISOString()
  return view
}

function pingView ({ at, ...rest }: HeartbeatPing): HeartbeatPingView {
  return { at: new Date(at).toISOString(), ...rest }
}

const notFound = { ...ErrorResponse, description: 'No monitor has this name.', examples: [errorBody('HEARTBEAT_NOT_FOUND')] }

// A ping's body is ignored, whatever its type (no 415), and it takes no Idempotency-Key (no 422).
const { 415: _anyBody, 422: _noKey, ...pingErrors } = publishErrors

const pingDescription = 'Settings left out keep their values (defaults: every 5m, grace 1m, severity critical, location the name). No body is needed. ' +
  'The token may be sent as ?token= (publish scope): such a ping URL is a credential, keep it as secret as the token.'
const pingResponses = {
  200: HeartbeatView,
  ...pingErrors,
  400: { ...publishErrors[400], ...queryErrors[400], description: 'A name, duration, schedule, time zone, severity or location that is not valid.', examples: [errorBody('INVALID_QUERY'), errorBody('VALIDATION_FAILED'), errorBody('INVALID_SCHEDULE')] },
  409: { ...ErrorResponse, description: 'A new name past HEARTBEATS_MAX monitors.', examples: [errorBody('HEARTBEATS_FULL')] }
}

const heartbeats: FastifyPluginAsyncTypebox = async (fastify) => {
  // No body is needed and one is ignored, whatever its type (a cron line's
  // `curl -d …` sends a form): read (up to the body limit) and dropped.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
  const { heartbeats: monitors, timers } = fastify

  fastify.post('/heartbeats/:name', {
    config: { scope: 'publish', queryToken: true },
    schema: {
      tags: ['integrations'],
      summary: 'Ping a heartbeat monitor: a success (the monitor is created by the first ping)',
      description: 'A cron job or a backup calls this each time it succeeds: `curl -fsS -X POST .../heartbeats/nightly-backup?every=1d`. ' +
        'When no ping comes within every + grace (or grace after the schedule\'s next occurrence), an alert is raised (key heartbeat:<name>, source heartbeat), once per miss for ' +
        'the whole cluster; the next success resolves it. ' + pingDescription,
      params: HeartbeatName,
      querystring: HeartbeatQuery,
      response: pingResponses
    },
    preValidation: repeatedParameters()
  }, async (request) => {
    return viewOf(await monitors.ping(request.params.name, changeOf(request.query), signalOf('ping', request)), timers.now())
  })

  // As healthchecks.io's ping URLs: GET as well as POST, so that any HTTP
  // client (wget, a router, a browser) can ping. HEAD is not a ping: link
  // checkers send it.
  fastify.route({
    method: ['GET', 'POST'],
    url: '/heartbeats/:name/:signal',
    exposeHeadRoute: false,
    config: { scope: 'publish', queryToken: true },
    schema: {
      tags: ['integrations'],
      summary: 'Ping a heartbeat monitor: success (/ping, /0), a run started (/start), or a failure (/fail, /1 to /255)',
      description: '`/start` says a run began: its duration is measured up to the next success or failure, and a run that does not end within ' +
        'the grace is a miss. `/fail` or a non-zero exit status (`cmd; curl .../heartbeats/job/$?`) raises the alert at once (or repeats the open one); ' +
        'the next success resolves it. ' + pingDescription,
      params: HeartbeatSignalParams,
      querystring: HeartbeatQuery,
      response: pingResponses
    },
    preValidation: repeatedParameters(),
    handler: async (request) => {
      const { name, signal } = request.params
      return viewOf(await monitors.ping(name, changeOf(request.query), signalOf(signal, request)), timers.now())
    }
  })

  fastify.get('/heartbeats/:name', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['integrations'],
      summary: 'A heartbeat monitor with its last pings',
      description: 'The monitor as in the list, and its last 100 pings (time, kind, exit status, duration of a finished run, address, user agent), newest first.',
      params: HeartbeatName,
      response: { 200: HeartbeatDetail, ...apiErrors, 404: notFound, 400: publishErrors[400] }
    }
  }, async (request) => {
    const shown = await monitors.show(request.params.name)
    if (shown === undefined) throw httpError('HEARTBEAT_NOT_FOUND', `no heartbeat monitor named ${request.params.name}`)
    return { ...viewOf(shown.monitor, timers.now()), pings: shown.pings.map(pingView) }
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
