import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import accepts from 'accepts'
import { Type } from '@sinclair/typebox'
import { streamErrors } from '../schemas/errors'
import { EventsHeaders, EventsQuery } from '../schemas/frames'
import { GAP_FRAME } from '../plugins/core/fanout'
import { filterReplay, nextPageAfter, replayPages, type EventFilter } from '../plugins/core/event-filter'
import { frameRecord, sseRetry, type StreamFormat } from '../plugins/core/framing'
import type { Replay } from '../plugins/core/backend'
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

/** Events read per page of a poll. */
const POLL_PAGE = 500

/** The records of a poll: a gap frame first when the start is no longer retained, then every page's events the filter lets through. */
async function * pollRecords (pages: (after: string | undefined, limit: number) => Promise<Replay>, first: Replay, filter: EventFilter | undefined, format: StreamFormat): AsyncGenerator<Buffer> {
  if (!first.found) yield frameRecord(format, GAP_FRAME)
  let page = first
  for (;;) {
    const { events } = filterReplay(page, filter)
    if (events.length > 0) yield Buffer.concat(events.map((event) => frameRecord(format, event)))
    const after = nextPageAfter(page)
    if (after === undefined) return
    page = await pages(after, POLL_PAGE)
    // The history let go of where the poll had got to (it was read more
    // slowly than events were published): the answer is cut, not completed
    // with a second copy of the history.
    if (!page.found) throw new Error('poll cut: the retained history moved past where the reader had got to')
  }
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
      // Read and written a page at a time: a poll of a long history holds one
      // page, and a reader that stops reading stops the reads (back-pressure).
      const pages = replayPages(read, since ?? { kind: 'all' })
      const first = await pages(undefined, POLL_PAGE)
      // A stream body: the schema's string type stands for the records it sends.
      const plain: FastifyReply = reply
      return await plain.headers(headers).send(Readable.from(pollRecords(pages, first, filter, format), { objectMode: false }))
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
