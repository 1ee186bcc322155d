/**
 * What the stored history gives people: one alert's timeline, and the board
 * exported as NDJSON or CSV, read page by page so that a million alerts cost
 * no more memory than one page.
 */
import type { Alert, Event, TimelineEntry } from '../../schemas/events'
import type { StoredAlert } from './backend'

/** An alert's events as its timeline: what each did and the fields it left. */
export function timelineOf (events: Event[]): TimelineEntry[] {
  const out: TimelineEntry[] = []
  for (const event of events) {
    const alert = event.type === 'alert' ? event : event.type === 'alert_update' ? event.alert : undefined
    if (alert === undefined) continue
    const entry: TimelineEntry = {
      eventId: event.id,
      at: event.timestamp,
      kind: event.type === 'alert_update' ? event.change : 'raised',
      count: alert.count,
      state: alert.state,
      severity: alert.severity,
      message: alert.message,
      location: alert.location
    }
    if (event.type === 'alert_update') {
      if (event.by !== undefined) entry.by = event.by
      if (event.note !== undefined) entry.note = event.note
      if (event.previous !== undefined) entry.previous = event.previous
    }
    out.push(entry)
  }
  return out
}

/** The columns of a CSV export, in order; lists are joined with "; " (tags) or given as JSON (notes, details). */
export const CSV_COLUMNS = [
  'id', 'timestamp', 'updatedAt', 'state', 'severity', 'message', 'location', 'source', 'key', 'count', 'tags', 'link',
  'acknowledgedBy', 'acknowledgedAt', 'resolvedBy', 'resolvedAt', 'escalations', 'notes', 'details'
] as const

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, with quotes doubled. */
export function csvField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

function cell (alert: Alert, column: typeof CSV_COLUMNS[number]): string {
  if (column === 'tags') return (alert.tags ?? []).join('; ')
  if (column === 'notes' || column === 'details') return alert[column] === undefined ? '' : JSON.stringify(alert[column])
  const value = alert[column]
  return value === undefined ? '' : String(value)
}

/** One alert as a CSV record, with its CRLF. */
export function csvRecord (alert: Alert): string {
  return `${CSV_COLUMNS.map((column) => csvField(cell(alert, column))).join(',')}\r\n`
}

export interface ExportOptions {
  format: 'ndjson' | 'csv'
  /** Reads up to `count` alerts raised before `before`, newest first (the store's `newest`). */
  newest: (count: number, before?: number) => Promise<StoredAlert[]>
  /** Whether an alert is exported (the board's filter). */
  accept: (alert: Alert) => boolean
  /** Only alerts raised after this (ms since the epoch): the pages stop there. */
  after?: number
  /** Only alerts raised before this (ms since the epoch). */
  before?: number
  /** Alerts read per page. */
  pageSize?: number
}

/**
 * The export, a chunk per page: newest first, as the board. Pulled by the
 * response stream, so a client that reads slowly slows the reads down (a
 * page is read only when the previous one was taken), and one that goes away
 * stops them.
 */
export async function * exportChunks ({ format, newest, accept, after, before, pageSize = 500 }: ExportOptions): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`
  let cursor: number | undefined
  for (;;) {
    const page = await newest(pageSize, cursor)
    let chunk = ''
    for (const { alert } of page) {
      const raised = Date.parse(alert.timestamp)
      if (after !== undefined && raised <= after) {
        if (chunk !== '') yield chunk
        return
      }
      if ((before !== undefined && raised >= before) || !accept(alert)) continue
      chunk += format === 'csv' ? csvRecord(alert) : `${JSON.stringify(alert)}\n`
    }
    if (chunk !== '') yield chunk
    if (page.length < pageSize) return
    cursor = page.at(-1)?.seq
  }
}
