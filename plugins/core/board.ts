import { ALERT_STATES, SEVERITIES, severityRank, type Alert, type BoardQuery } from '../../schemas/events'
import type { NewestScope, StoredAlert } from './backend'

/**
 * Joins the values of a parameter given more than once (?location=a&location=b),
 * each taken whole, commas included. A lone surrogate: no value that can match
 * holds one (stored text is well-formed Unicode), so it never splits a real value.
 */
export const WHOLE_VALUES = '\ud800'

/**
 * Splits "a, b,,c" into ["a", "b", "c"]. A list (a silence's match word) and
 * values joined with WHOLE_VALUES (the repeated-parameter form) are whole
 * values, split nowhere else, so a value may hold a comma. Names from a fixed
 * set (states, severities, types) hold none: they are split at commas in
 * every form, as before.
 */
export function commaValues (value: string | readonly string[] | undefined, enumerated = false): string[] | undefined {
  if (value === undefined) return undefined
  const whole = typeof value !== 'string' || value.includes(WHOLE_VALUES)
  const parts = typeof value !== 'string' ? value : whole ? value.split(WHOLE_VALUES) : [value]
  return (enumerated || !whole ? parts.flatMap((part) => part.split(',')) : parts).map((v) => v.trim()).filter((v) => v.length > 0)
}

/** A filter on alerts; values within one field OR, fields AND. Undefined fields let everything through. */
export interface AlertFilter {
  state?: Set<string>
  severity?: Set<string>
  location?: Set<string>
  key?: Set<string>
  tag?: Set<string>
  /** The least severity that passes (info < warning < critical). */
  minSeverity?: number
}

/** The filter parameters of alerts, shared by the board and the streams (plugins/core/event-filter.ts). */
export type AlertFilterQuery = Partial<Pick<BoardQuery, 'state' | 'severity' | 'min_severity' | 'location' | 'key' | 'tag'>>

/** The same words where a list of whole values may stand for a comma list (a silence's match). */
export type AlertFilterWords = { [K in Exclude<keyof AlertFilterQuery, 'min_severity'>]?: string | readonly string[] } & Pick<AlertFilterQuery, 'min_severity'>

/** Reads the filter of a query, or returns a message naming the parameter when a value is not one it knows. */
export function parseAlertFilter (query: AlertFilterWords): AlertFilter | string {
  const filter: AlertFilter = {}
  if (query.min_severity !== undefined) {
    const least = severityRank(query.min_severity.trim())
    if (least < 0) return `querystring/min_severity must be one of ${SEVERITIES.join(', ')}; got ${JSON.stringify(query.min_severity.slice(0, 50))}`
    // info lets everything through: no test at all.
    if (least > 0) filter.minSeverity = least
  }
  const known: Record<string, readonly string[]> = { state: ALERT_STATES, severity: SEVERITIES }
  for (const name of ['state', 'severity', 'location', 'key', 'tag'] as const) {
    const values = commaValues(query[name], known[name] !== undefined)
    if (values === undefined) continue
    if (values.length === 0) return `querystring/${name} must list at least one value`
    const allowed = known[name]
    const wrong = allowed === undefined ? undefined : values.find((v) => !allowed.includes(v))
    if (wrong !== undefined) return `querystring/${name} must be a comma list of ${allowed?.join(', ') ?? ''}; got ${JSON.stringify(wrong.slice(0, 50))}`
    filter[name] = new Set(values)
  }
  return filter
}

/** What a reader of `newest` for this filter keeps: only unresolved alerts when the filter lets no resolved one through (a store may then read only those). */
export function newestScope (filter: AlertFilter): NewestScope {
  return { unresolved: filter.state !== undefined && !filter.state.has('resolved') }
}

export function matches (alert: Alert, filter: AlertFilter): boolean {
  return (filter.state === undefined || filter.state.has(alert.state)) &&
    (filter.severity === undefined || filter.severity.has(alert.severity)) &&
    (filter.minSeverity === undefined || severityRank(alert.severity) >= filter.minSeverity) &&
    (filter.location === undefined || filter.location.has(alert.location)) &&
    (filter.key === undefined || (alert.key !== undefined && filter.key.has(alert.key))) &&
    (filter.tag === undefined || (alert.tags ?? []).some((tag) => filter.tag?.has(tag) === true))
}

const encodeCursor = (seq: number): string => Buffer.from(`seq:${seq}`).toString('base64url')

/** The seq a cursor stands for, or undefined when it is not one this server gave out. */
export function decodeCursor (cursor: string): number | undefined {
  const match = /^seq:(\d{1,20})$/.exec(Buffer.from(cursor, 'base64url').toString())
  return match === null ? undefined : Number(match[1])
}

// The most alerts one read of a page asks for (a page holds at most 1,000).
const MAX_BATCH = 4000

/**
 * One page of the board: the alerts `accept` takes, newest first, after the
 * cursor (`before`). Read from `newest` a batch at a time, so a page of a few
 * alerts does not read every retained one; a filter that takes few reads on
 * until the page is full or the alerts run out. An alert's seq never changes,
 * so batches never overlap.
 */
export async function boardPage (
  newest: (count: number, before?: number) => Promise<StoredAlert[]>,
  accept: (stored: StoredAlert) => boolean,
  limit: number,
  before?: number
): Promise<{ alerts: Alert[], next?: string }> {
  const page: StoredAlert[] = []
  // Doubled after each batch that left the page short, up to a bound: a
  // filter that takes few alerts costs a few reads, none of them long.
  let batch = Math.max(limit + 1, 100)
  let from = before
  for (;; batch = Math.min(batch * 2, MAX_BATCH)) {
    const chunk = await newest(batch, from)
    for (const entry of chunk) {
      if (!accept(entry)) continue
      if (page.length === limit) {
        // One more matches: the page is full and another follows it.
        return { alerts: page.map((e) => e.alert), next: encodeCursor((page[page.length - 1] as StoredAlert).seq) }
      }
      page.push(entry)
    }
    const last = chunk[chunk.length - 1]
    if (chunk.length < batch || last === undefined) return { alerts: page.map((e) => e.alert) }
    from = last.seq
  }
}
