import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import accepts from 'accepts'
import { Type } from '@sinclair/typebox'
import { streamErrors } from '../schemas/errors'
import { EventsHeaders, EventsQuery } from '../schemas/frames'
import { GAP_FRAME } from '../plugins/core/fanout'
import { filterReplay, replayPages, replaySince } from '../plugins/core/event-filter'
import { frameRecord, sseRetry, type StreamFormat } from '../plugins/core/framing'
import { FILTER_LISTS, repeatedParameters, subscription } from './shared'

/** How long EventSource waits before reconnecting: long enough for a restarting instance, short enough to miss little. */
export const RETRY_MS = 3000

const CONTENT_TYPES: Record<StreamFormat, string> = {
  sse: 'text/event-stream; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8'
}

/** The format asked for: ?format=, else the Accept header, else SSE. */
/**
 * ?format= when given, else what the Accept header prefers (q-values honoured:
 * `application/x-ndjson;q=0` refuses it); SSE when it names neither.
 */
function formatOf (asked: StreamFormat | undefined, request: FastifyRequest): StreamFormat {
  return asked ?? (accepts(request.raw).type(['text/event-stream', 'application/x-ndjson']) === 'application/x-ndjson' ? 'ndjson' : 'sse')
}

const streamBody = (description: string) => ({
  description,
  content: {
    'text/event-stream': { schema: Type.String({ description: 'id: <event id>\\nevent: <frame type>\\ndata: <frame JSON>\\n\\n per event' }) },
    'application/x-ndjson': { schema: Type.String({ description: 'one frame JSON per line' }) }
  }
})

const events: FastifyPluginAsyncTypebox = async (fastify) => {
  const { fanout, backend, timers } = fastify
  const read = async (id?: string, limit?: number): ReturnType<typeof backend.store.since> => await backend.store.since(id, limit)

  fastify.get('/events', {
    schema: {
      tags: ['websocket'],
      summary: 'Live events as Server-Sent Events or NDJSON',
      description: 'The frames of /ws over plain HTTP, for EventSource, curl and scripts. SSE by default (`id:`, `event:` the frame type, `data:` the frame JSON, ' +
        'a `retry:` hint, a comment line every SSE_HEARTBEAT_MS); NDJSON with ?format=ndjson or Accept: application/x-ndjson (one frame per line, ' +
        '{"type":"keepalive"} lines). Replay with ?since= or the Last-Event-ID header (which wins: EventSource sends it when it reconnects); ' +
        'a gap frame first when the id is no longer retained. ?poll=1 sends the replay (or the whole retained history) and ends. ' +
        'Filters as on /ws; a mistake is 400 before the stream starts. ?token= is accepted for EventSource. Counted with WebSockets against ' +
        'WS_MAX_CONNECTIONS and WS_MAX_CONNECTIONS_PER_ADDRESS; a reader whose backlog passes WS_MAX_BUFFERED_BYTES is cut; the stream ends at shutdown.',
      querystring: EventsQuery,
      headers: EventsHeaders,
      produces: ['text/event-stream', 'application/x-ndjson'],
      response: { 200: streamBody('The stream (or, with ?poll=1, the replay and its end).'), ...streamErrors }
    },
    config: { scope: 'subscribe', stream: true, queryToken: true },
    preValidation: repeatedParameters(FILTER_LISTS)
  }, async (request, reply) => {
    const { format: asked, poll, ...query } = request.query
    const format = formatOf(asked, request)
    const { filter, since } = subscription(query, timers.now(), request.headers['last-event-id'])
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPES[format], 'cache-control': 'no-store', 'x-accel-buffering': 'no' }

    // HEAD (a probe, or a client checking the route): the head alone, no stream.
    if (request.method === 'HEAD') return await reply.headers(headers).send('')

    if (poll === '1' || poll === 'true') {
      const { found, events } = filterReplay(await replaySince(read, since ?? { kind: 'all' }), filter)
      const frames: object[] = found ? events : [GAP_FRAME, ...events]
      return await reply.headers(headers).send(Buffer.concat(frames.map((frame) => frameRecord(format, frame))).toString())
    }

    // From here the fan-out writes the response; Fastify lets go of it.
    reply.hijack()
    const response = reply.raw
    // The headers hooks set (security, CORS) go out too.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) response.setHeader(name, value)
    // The connection ends with the stream: a reader that was cut (or the
    // server shutting down) leaves no idle connection behind.
    response.writeHead(200, { ...headers, connection: 'close' })
    // The head leaves at once (with the retry hint for SSE), so the client
    // knows it is subscribed before the first event.
    if (format === 'sse') response.write(sseRetry(RETRY_MS))
    else response.flushHeaders()
    request.log.info({ format, since: request.query.since ?? request.headers['last-event-id'], filter: filter?.key, clients: fanout.size + 1 }, 'event stream opened')
    response.once('close', () => request.log.info('event stream closed'))
    await fanout.add({ format, response }, {
      identity: request.identity ?? undefined,
      filter,
      replay: since === undefined ? undefined : replayPages(read, since)
    })
  })
}

export default events
