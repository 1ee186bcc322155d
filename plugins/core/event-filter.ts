import { UUID, type Alert, type AlertBefore, type Event, type EventType } from '../../schemas/events'
import type { Replay } from './backend'
import { parseDateTime, parseDuration } from './duration'
import { commaValues, matches, parseAlertFilter, type AlertFilter, type AlertFilterQuery } from './board'

const TYPES: readonly EventType[] = ['alert', 'chat', 'alert_update']

/**
 * What a subscriber of /ws or /events receives: the alert filter of the board
 * (plugins/core/board.ts, one parser for the three places) and the event
 * types. Chat is judged by `types` alone; an alert_update by the alert it
 * carries, so a filtered board still sees its alerts acknowledged and resolved.
 */
export interface EventFilter {
  types?: Set<EventType>
  alert: AlertFilter
  /**
   * The same for every filter that lets the same events through: subscribers
   * with equal keys share one serialized batch per turn. '' is no filter.
   */
  key: string
}

/** The stream filter parameters: the board's (without `state`) and `types`. */
export type EventFilterQuery = Omit<AlertFilterQuery, 'state'> & { types?: string }

/** The filter of a query, undefined when it filters nothing, or a message naming the parameter at fault. */
export function parseEventFilter (query: EventFilterQuery): EventFilter | undefined | string {
  const { types: typesValue, severity, min_severity: minSeverity, location, key, tag } = query
  const alert = parseAlertFilter({ severity, min_severity: minSeverity, location, key, tag })
  if (typeof alert === 'string') return alert
  let types: Set<EventType> | undefined
  const listed = commaValues(typesValue, true)
  if (listed !== undefined) {
    if (listed.length === 0) return 'querystring/types must list at least one value'
    const wrong = listed.find((v) => !(TYPES as readonly string[]).includes(v))
    if (wrong !== undefined) return `querystring/types must be a comma list of ${TYPES.join(', ')}; got ${JSON.stringify(wrong.slice(0, 50))}`
    types = new Set(listed as EventType[])
    // Every type listed filters nothing.
    if (types.size === TYPES.length) types = undefined
  }
  const filter: EventFilter = { alert, key: '' }
  if (types !== undefined) filter.types = types
  filter.key = filterKey(filter)
  return filter.key === '' ? undefined : filter
}

const sorted = (set: Set<string> | undefined): string[] | null => set === undefined ? null : [...set].sort()

/** Canonical: the order of values and of parameters does not matter. */
function filterKey ({ types, alert }: EventFilter): string {
  const parts = [
    sorted(types),
    sorted(alert.severity),
    alert.minSeverity ?? null,
    sorted(alert.location),
    sorted(alert.key),
    sorted(alert.tag)
  ]
  return parts.every((p) => p === null) ? '' : JSON.stringify(parts)
}

/**
 * Whether a subscriber with this filter receives the event; no filter lets
 * everything through. An alert_update passes when its alert passes, as it now
 * stands or (a repeat that changed severity, location or tags) as it was: a
 * filtered board sees an alert leave its filter instead of keeping it open.
 */
export function passes (event: Event, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true
  if (filter.types !== undefined && !filter.types.has(event.type)) return false
  if (event.type === 'chat') return true
  if (event.type === 'alert') return matches(event, filter.alert)
  return matches(event.alert, filter.alert) || (event.previous !== undefined && matches(before(event.alert, event.previous), filter.alert))
}

/** The alert as it was before a repeat, from what the update says changed. */
function before (alert: Alert, previous: AlertBefore): Alert {
  const was: Alert = { ...alert, severity: previous.severity, location: previous.location }
  if (previous.tags === undefined) delete was.tags
  else was.tags = previous.tags
  return was
}

/** Where a replay starts: everything retained, after an event, or after a moment. */
export type Since = { kind: 'all' } | { kind: 'id', id: string } | { kind: 'time', after: number }

/**
 * Reads `since`: `all`, a duration back from `now` (duration.ts: `30s`, `10m`,
 * `2h`, `1d`, `500ms`, `1w`), an ISO 8601 date-time with its offset, or else an event id. Returns
 * a message naming the parameter when it looks like a time but is none.
 */
export function parseSince (value: string, now: number, name = 'querystring/since'): Since | string {
  if (value === 'all') return { kind: 'all' }
  const duration = parseDuration(value)
  if (duration !== undefined) return { kind: 'time', after: now - duration }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = parseDateTime(value)
    if (at === undefined) return `${name} looks like a date but is not an ISO 8601 date-time with a time zone (e.g. 2026-01-01T12:00:00Z); got ${JSON.stringify(value.slice(0, 50))}`
    return { kind: 'time', after: at }
  }
  if (/^[-+]?[\d.]+[a-z]*$/i.test(value)) return `${name} must be an event id, "all", a duration such as 30s, 10m, 2h or 1d, or an ISO 8601 date-time; got ${JSON.stringify(value.slice(0, 50))}`
  // Event ids are lower-case UUIDs; one typed in upper case is the same id (RFC 9562).
  return { kind: 'id', id: UUID.test(value) ? value.toLowerCase() : value }
}

/**
 * The pages of a replay from `from`: the first from its starting point, the
 * next after the last event of the page before (`after`); a replay from a
 * point in time keeps, on every page, what was stamped after it.
 */
export function replayPages (since: (id?: string, limit?: number) => Promise<Replay>, from: Since): (after: string | undefined, limit: number) => Promise<Replay> {
  return async (after, limit) => {
    const page = await since(after ?? (from.kind === 'id' ? from.id : undefined), limit)
    if (from.kind !== 'time') return page
    // The next page starts after the last event read, kept or not.
    const next = page.events[page.events.length - 1]?.id
    const events = page.events.filter((event) => Date.parse(event.timestamp) > from.after)
    return next === undefined ? { ...page, events } : { ...page, events, next }
  }
}

/**
 * Where the page after this one starts (its `next`, else its last event), or
 * undefined when this one was the last: what every reader of replay pages
 * (a subscriber's replay, a poll) asks for next.
 */
export function nextPageAfter (page: Replay): string | undefined {
  return page.more === true ? page.next ?? page.events[page.events.length - 1]?.id : undefined
}

/** A replay cut to what a filter lets through (and to `found` and its events: where the next page starts is asked of the page read, nextPageAfter); a gap stays a gap. */
export function filterReplay (replay: Replay, filter: EventFilter | undefined): Replay {
  return filter === undefined ? replay : { found: replay.found, events: replay.events.filter((event) => passes(event, filter)) }
}
