import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Readable } from 'node:stream'
import { ExportQuery } from '../schemas/events'
import { apiErrors, httpError, queryErrors } from '../schemas/errors'
import { matches, newestScope, parseAlertFilter } from '../plugins/core/board'
import { parseSince } from '../plugins/core/event-filter'
import { exportChunks } from '../plugins/core/history'
import { FILTER_LISTS, repeatedParameters } from './shared'

const CONTENT_TYPES = { ndjson: 'application/x-ndjson; charset=utf-8', csv: 'text/csv; charset=utf-8; header=present' }

const exportRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { backend: { store }, timers } = fastify

  /** A moment of since/until: a duration back from now or an ISO 8601 date-time (an event id or "all" is the board's, not the export's). */
  function moment (name: 'since' | 'until', value: string | undefined): number | undefined {
    if (value === undefined) return undefined
    const parsed = parseSince(value, timers.now(), `querystring/${name}`)
    if (typeof parsed === 'string' || parsed.kind !== 'time') {
      throw httpError('INVALID_QUERY', `querystring/${name} must be a duration back from now (such as 7d, 12h) or an ISO 8601 date-time with its zone; got ${JSON.stringify(value.slice(0, 50))}`)
    }
    return parsed.after
  }

  fastify.get('/alerts/export', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['alerts'],
      summary: 'Every retained alert that passes the board\'s filters, as NDJSON or CSV',
      description: 'Newest first, streamed: the server reads a page of alerts only when the client has taken the previous one. ' +
        'since/until bound the time each alert was raised. CSV has a header row, quotes fields as RFC 4180 says, joins tags with "; " and gives notes as JSON.',
      querystring: ExportQuery,
      produces: ['application/x-ndjson', 'text/csv'],
      response: {
        200: { description: 'The alerts, one per line (NDJSON) or record (CSV).', type: 'string' },
        ...apiErrors,
        ...queryErrors
      }
    },
    preValidation: repeatedParameters(FILTER_LISTS)
  }, async (request, reply) => {
    const { format = 'ndjson', since, until, ...rest } = request.query
    const filter = parseAlertFilter(rest)
    if (typeof filter === 'string') throw httpError('INVALID_QUERY', filter)
    const after = moment('since', since)
    const before = moment('until', until)
    const scope = newestScope(filter)
    const chunks = exportChunks({ format, newest: async (count, from) => await store.newest(count, from, scope), accept: (alert) => matches(alert, filter), after, before })
    const day = new Date(timers.now()).toISOString().slice(0, 10)
    return await reply
      .type(CONTENT_TYPES[format])
      .header('content-disposition', `attachment; filename="alerts-${day}.${format}"`)
      .send(Readable.from(chunks, { objectMode: false }))
  })
}

export default exportRoute
