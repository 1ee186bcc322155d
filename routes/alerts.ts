import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { ActionInput, Alert, AlertHeaders, AlertHistory, AlertId, AlertInput, AlertText, Board, BoardQuery, ResolveByKeyInput, Timeline } from '../schemas/events'
import { apiErrors, httpError, lifecycleErrors, publishErrors, queryErrors } from '../schemas/errors'
import { boardPage, decodeCursor, matches, newestScope, parseAlertFilter } from '../plugins/core/board'
import { parseSince } from '../plugins/core/event-filter'
import type { StoredAlert } from '../plugins/core/backend'
import { timelineOf, withAttempts } from '../plugins/core/history'
import { actor, FILTER_LISTS, publishRequest, repeatedParameters } from './shared'
import { parseTextBody, TEXT_TYPES, textAlert, textChecks } from './plain-text'

/** The body may be left out altogether (`curl -X POST .../ack`): it then counts as {}. */
async function optionalBody (request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

const alerts: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, backend: { store, outbox }, timers } = fastify
  const silences = fastify.notifications.silences

  /** The alerts a silence holds now, by id, with the silence's id; undefined when none is. */
  function silencedOn (alerts: Alert[]): Record<string, string> | undefined {
    let held: Record<string, string> | undefined
    for (const alert of alerts) {
      const silence = silences.holding(alert)
      if (silence !== undefined) (held ??= {})[alert.id] = silence
    }
    return held
  }
  const { HISTORY_SIZE } = fastify.config

  /** The alerts changed after `since` (the same forms as on /ws and /events), and whether its id was no longer retained. */
  async function changedSince (since: string | undefined): Promise<{ keep?: (stored: StoredAlert) => boolean, gap?: true }> {
    if (since === undefined) return {}
    const from = parseSince(since, timers.now())
    if (typeof from === 'string') throw httpError('INVALID_QUERY', from)
    if (from.kind === 'all') return {}
    if (from.kind === 'time') return { keep: ({ alert }) => Date.parse(alert.updatedAt) > from.after }
    const { found, events } = await store.since(from.id)
    if (!found) return { gap: true }
    const changed = new Set<string>()
    for (const event of events) {
      if (event.type === 'alert') changed.add(event.id)
      else if (event.type === 'alert_update') changed.add(event.alert.id)
    }
    return { keep: ({ alert }) => changed.has(alert.id) }
  }

  const checks = textChecks(fastify.compileCheck)
  // A plain-text body is taken on POST /alerts alone: the other routes keep
  // answering 415 to it, since body parsers belong to the plugin they are added in.
  await fastify.register(async (textual) => {
    textual.addContentTypeParser(TEXT_TYPES, { parseAs: 'buffer' }, (request, body, done) => { parseTextBody(request, body as Buffer, done) })
    const text = { schema: AlertText }
    textual.withTypeProvider<TypeBoxTypeProvider>().post('/alerts', {
      config: { scope: 'publish' },
      schema: {
        tags: ['alerts'],
        summary: 'Raise an alert',
        description: 'Stores the alert and sends it to every WebSocket client. With the `key` of an alert that is not resolved, ' +
          'that alert is updated instead (latest message, location, severity, link and tags; count + 1) and an alert_update ' +
          'frame is sent. Unknown fields are ignored, and named in the Ignored-Fields response header. With an Idempotency-Key header a retry is safe: it gets the first result and publishes nothing. ' +
          'The body is JSON, or plain text (text/plain, or the form curl -d sends, taken as sent): the text is the message, and location, severity, ' +
          'key, tags (a comma list) and link come from the X-Location, X-Severity, X-Key, X-Tags and X-Link headers, or else from the query string ' +
          '(?location=db1&severity=critical), with the same rules and answers as in JSON.',
        body: { content: { 'application/json': { schema: AlertInput }, 'text/plain': text, 'application/x-www-form-urlencoded': text } },
        headers: AlertHeaders,
        response: { 200: Alert, ...publishErrors }
      },
      // A schema per content type is applied only to a body that came with its
      // type: a request without a body would pass unchecked.
      preValidation: async (request) => {
        if (request.body === undefined) throw httpError('VALIDATION_FAILED', 'body must be object')
      }
    }, async (request, reply) => {
      const body = request.body as AlertInput | string
      const input = typeof body === 'string' ? textAlert(body, request, checks) : body
      return await publishRequest(publisher, { type: 'alert', ...input }, request.headers['idempotency-key'], reply)
    })
  })

  fastify.get('/alerts/history', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['alerts'],
      summary: 'The most recent alerts, oldest first, each as it now stands',
      response: { 200: AlertHistory, ...apiErrors }
    }
  }, async () => {
    const list = (await store.newest(HISTORY_SIZE)).reverse().map((e) => e.alert)
    return { alerts: list, count: list.length }
  })

  fastify.get('/alerts', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['alerts'],
      summary: 'The board: retained alerts, newest first, filtered',
      description: 'Each filter takes a comma list (or the parameter repeated); values within one filter OR, filters AND (the same filters as /ws and /events, and min_severity). ' +
        'since keeps the alerts changed after a point (an event id, a duration, an ISO 8601 date-time). ' +
        'Alerts that are not resolved are kept until they are (up to OPEN_ALERTS_MAX); resolved ones for RETENTION (STORE=sqlite) or the newest REPLAY_WINDOW (memory, Redis).',
      querystring: BoardQuery,
      response: { 200: Board, ...apiErrors, ...queryErrors }
    },
    preValidation: repeatedParameters(FILTER_LISTS)
  }, async (request) => {
    const { limit = 100, cursor, since, ...rest } = request.query
    const filter = parseAlertFilter(rest)
    if (typeof filter === 'string') throw httpError('INVALID_QUERY', filter)
    const before = cursor === undefined ? undefined : decodeCursor(cursor)
    if (cursor !== undefined && before === undefined) throw httpError('INVALID_QUERY', 'querystring/cursor is not a cursor this server gave out')
    const { keep, gap } = await changedSince(since)
    const accept = (stored: StoredAlert): boolean => (keep === undefined || keep(stored)) && matches(stored.alert, filter)
    const scope = newestScope(filter)
    const page = await boardPage(async (count, from) => await store.newest(count, from, scope), accept, limit, before)
    const silenced = silencedOn(page.alerts)
    return { ...page, count: page.alerts.length, ...(gap === true ? { gap } : {}), ...(silenced === undefined ? {} : { silenced }) }
  })

  fastify.get('/alerts/:id/timeline', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['alerts'],
      summary: 'Every change of one alert, oldest first',
      description: 'Raised, each repeat (its count, and what changed in `previous`), acknowledged and resolved (by, note), escalated; and each attempt to notify a receiver (notified, notify_failed: receiver, attempt, result, status). ' +
        'With STORE=sqlite it reaches back RETENTION; in memory and on Redis, REPLAY_WINDOW events of the alert stream (`complete: false` when its first events are gone).',
      params: AlertId,
      response: { 200: Timeline, ...apiErrors, ...lifecycleErrors }
    }
  }, async (request) => {
    const id = request.params.id.toLowerCase()
    const stored = await store.alert(id)
    if (stored === undefined) throw httpError('ALERT_NOT_FOUND', `no alert with id ${id}`)
    const changes = timelineOf(await store.timeline(id))
    const timeline = withAttempts(changes, await outbox.attempts(id), stored.alert)
    return { alert: stored.alert, timeline, count: timeline.length, complete: changes[0]?.kind === 'raised' }
  })

  const action = (name: 'acknowledge' | 'resolve', summary: string): void => {
    fastify.post(`/alerts/:id/${name === 'acknowledge' ? 'ack' : 'resolve'}`, {
      config: { scope: 'operate' },
      schema: {
        tags: ['alerts'],
        summary,
        description: 'Body optional: {"by": "...", "note": "..."}; `by` defaults to "anonymous". With a named credential (a TOKENS_FILE entry or a JWT), `by` is its name and the body\'s is ignored. ' +
          'Doing it again is answered 200 with the alert unchanged, and nothing is sent.',
        params: AlertId,
        body: ActionInput,
        response: { 200: Alert, ...publishErrors, ...lifecycleErrors }
      },
      preValidation: optionalBody
    }, async (request) => {
      const { by, note } = request.body
      // Ids are lower case; a UUID is read case-insensitively (RFC 9562).
      return (await publisher.act({ id: request.params.id.toLowerCase() }, name, actor(request, by), note)).alert
    })
  }
  action('acknowledge', 'Acknowledge an alert: somebody is on it')
  action('resolve', 'Resolve an alert: the problem is gone')

  fastify.post('/alerts/resolve', {
    config: { scope: 'operate' },
    schema: {
      tags: ['alerts'],
      summary: 'Resolve the open alert with a key',
      description: 'What a script that raised an alert by key does when the problem is gone. When none with that key is open, the newest alert with that key (already resolved) is answered unchanged, as resolving by id twice; 404 only for a key no retained alert has. `by` as for /alerts/{id}/resolve.',
      body: ResolveByKeyInput,
      response: { 200: Alert, ...publishErrors, ...lifecycleErrors }
    }
  }, async (request) => {
    const { key, by, note } = request.body
    return (await publisher.act({ key }, 'resolve', actor(request, by), note)).alert
  })
}

export default alerts
