import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Alert, Chat, Draft } from '../schemas/events'
import type { Publisher } from '../plugins/core/publisher'
import { parseEventFilter, parseSince, type EventFilter, type EventFilterQuery, type Since } from '../plugins/core/event-filter'
import { httpError } from '../schemas/errors'
import { WHOLE_VALUES } from '../plugins/core/board'
import { clientKey } from '../plugins/app/requests'

/** Route config for routes that must answer even when the server is overloaded (health, readiness, metrics). */
export const neverShed = { pressureHandler: (): undefined => undefined }

/**
 * Who a chat message or an acknowledgement is from: the named identity of the
 * credential when there is one (a client cannot speak for someone else), what
 * the client said otherwise, as before credentials existed.
 */
export function actor (request: Pick<FastifyRequest, 'identity'>, said: string | undefined): string {
  const identity = request.identity
  return identity?.named === true ? identity.name : said ?? 'anonymous'
}

/**
 * Publishes a request's draft; with an Idempotency-Key, at most once per key,
 * and a retry's answer says it is the first one's (Idempotent-Replayed: true).
 */
export async function publishRequest<D extends Draft> (publisher: Publisher, draft: D, key: string | undefined, reply: FastifyReply): Promise<D['type'] extends 'alert' ? Alert : Chat> {
  // Without operate, a repeat cannot lower the severity of an alert another source raised (core/publisher.ts).
  const rights = { operate: reply.server.allows(reply.request, 'operate') }
  if (key === undefined) return await publisher.publish(draft, rights)
  const { event, replayed } = await publisher.publishOnce(draft, key, rights, clientKey(reply.request))
  if (replayed) void reply.header('idempotent-replayed', 'true')
  return event
}

/** What a subscriber asked for: its filter (none: everything) and where its replay starts (none: live only). */
export interface Subscription {
  filter: EventFilter | undefined
  since: Since | undefined
}

/**
 * Reads the filter and `since` of /ws or /events (a Last-Event-ID header
 * takes the place of ?since=); a mistake is a 400 naming the parameter,
 * answered before any upgrade or stream starts.
 */
export function subscription (query: EventFilterQuery & { since?: string }, now: number, lastEventId?: string): Subscription {
  const filter = parseEventFilter(query)
  if (typeof filter === 'string') throw httpError('INVALID_QUERY', filter)
  const given = lastEventId ?? query.since
  const since = given === undefined ? undefined : parseSince(given, now, lastEventId === undefined ? 'querystring/since' : 'headers/last-event-id')
  if (typeof since === 'string') throw httpError('INVALID_QUERY', since)
  return { filter, since }
}

/** The filter parameters that take a comma list (types on /ws and /events, state on GET /alerts). */
export const FILTER_LISTS = ['types', 'state', 'severity', 'location', 'key', 'tag']

/**
 * A preValidation hook for a route's repeated query parameters. One of `lists`
 * given more than once (?severity=warning&severity=critical, as URL builders
 * send a list) is the list of its values, each taken whole, commas included
 * (?location=Paris, France&location=Lyon; one value with a comma: add an
 * empty one, ?location=Paris, France&location=). Any other parameter the
 * route takes, given more than once, is refused saying so, rather than with
 * "must be string"; parameters the route does not take are left to
 * validation, which drops them.
 */
export function repeatedParameters (lists: readonly string[] = []): (request: FastifyRequest) => Promise<void> {
  const joined = new Set(lists)
  return async (request) => {
    const query = request.query as Record<string, unknown>
    const declared = (request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined)?.properties ?? {}
    for (const [name, value] of Object.entries(query)) {
      if (!Array.isArray(value) || !Object.hasOwn(declared, name)) continue
      if (joined.has(name)) query[name] = value.join(WHOLE_VALUES)
      else throw httpError('INVALID_QUERY', `querystring/${name} is given ${value.length} times; give it once`)
    }
  }
}

/**
 * A preHandler for a payload of several alerts (Alertmanager, Grafana): the
 * request counted once against the publish budget (@fastify/rate-limit), and
 * each further alert counts too, checked before anything is stored; past the
 * budget the whole payload is 429 and nothing is stored.
 */
export function payloadBudget (fastify: FastifyInstance): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const alerts = (request.body as { alerts?: unknown[] } | undefined)?.alerts?.length ?? 1
    if (fastify.takePublishMore(clientKey(request), alerts - 1)) return
    const seconds = fastify.publishWindowSeconds()
    void reply.header('retry-after', String(seconds))
    throw httpError('RATE_LIMITED', `a payload of ${alerts} alerts passes the publish budget of ${fastify.config.RATE_LIMIT_MAX} per window; nothing was stored, retry in ${seconds} s`)
  }
}
