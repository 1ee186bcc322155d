/**
 * The rules of an alert's life, as pure functions: raising (new or repeated
 * by key), acknowledging, resolving, escalating. Both backends store what
 * these return; neither decides anything itself.
 */
import { NOTES_MAX, severityRank, type Alert, type AlertFields, type Event, type Note, type Severity, type Source } from '../../schemas/events'

/**
 * Whether a new alert is refused on a full board (OPEN_ALERTS_MAX alerts not
 * resolved): `victim` is the severity of the alert that would be dropped for
 * it, undefined when none may be. Refused when none may, or only one more
 * severe than it: it would be the one to go. (append.lua holds the same rule for Redis.)
 */
export function noRoomFor (alert: Alert, victim: Severity | undefined): boolean {
  return victim === undefined || severityRank(alert.severity) < severityRank(victim)
}

/** The alert an event carries, if any. */
export function alertOf (event: Event): Alert | undefined {
  return event.type === 'alert' ? event : event.type === 'alert_update' ? event.alert : undefined
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** A new alert: open, raised once. Known fields only, in wire order. */
export function newAlert (id: string, now: number, input: AlertFields, source: Source): Alert {
  const at = iso(now)
  const alert: Alert = {
    id,
    timestamp: at,
    type: 'alert',
    message: input.message,
    location: input.location,
    severity: input.severity ?? 'warning',
    state: 'open',
    count: 1,
    updatedAt: at,
    source
  }
  if (input.key !== undefined) alert.key = input.key
  if (input.link !== undefined) alert.link = input.link
  if (input.tags !== undefined) alert.tags = input.tags
  if (input.details !== undefined) alert.details = input.details
  return alert
}

/**
 * The same incident raised again (same key, not resolved): the latest words
 * and severity, one more in the count. An acknowledged alert stays
 * acknowledged: somebody is already on it.
 */
export function repeated (alert: Alert, input: AlertFields, now: number): Alert {
  const next: Alert = {
    ...alert,
    message: input.message,
    location: input.location,
    severity: input.severity ?? 'warning',
    count: alert.count + 1,
    updatedAt: iso(now)
  }
  if (input.link !== undefined) next.link = input.link
  else delete next.link
  if (input.tags !== undefined) next.tags = input.tags
  else delete next.tags
  if (input.details !== undefined) next.details = input.details
  else delete next.details
  return next
}

export type Action = 'acknowledge' | 'resolve'

/** What an action does to an alert: a changed alert, nothing (already so), or a refusal. */
export type Outcome = { kind: 'changed', alert: Alert } | { kind: 'unchanged' } | { kind: 'conflict', message: string }

/** The alert's notes with one more (a note that is blank adds none), the newest NOTES_MAX kept. */
function noted (alert: Alert, note: Note | undefined): Pick<Alert, 'notes'> {
  if (note === undefined) return alert.notes === undefined ? {} : { notes: alert.notes }
  return { notes: [...(alert.notes ?? []), note].slice(-NOTES_MAX) }
}

export function act (alert: Alert, action: Action, by: string, now: number, text?: string): Outcome {
  const at = iso(now)
  const note = text === undefined || text.trim() === '' ? undefined : { at, by, action: action === 'acknowledge' ? 'acknowledged' as const : 'resolved' as const, text }
  if (action === 'acknowledge') {
    if (alert.state === 'acknowledged') return { kind: 'unchanged' }
    if (alert.state === 'resolved') return { kind: 'conflict', message: 'the alert is resolved; raise it again to reopen it' }
    return { kind: 'changed', alert: { ...alert, state: 'acknowledged', updatedAt: at, acknowledgedBy: by, acknowledgedAt: at, ...noted(alert, note) } }
  }
  if (alert.state === 'resolved') return { kind: 'unchanged' }
  return { kind: 'changed', alert: { ...alert, state: 'resolved', updatedAt: at, resolvedBy: by, resolvedAt: at, ...noted(alert, note) } }
}

/** Whether a critical alert nobody acknowledged is due to be announced again. */
export function escalationDue (alert: Alert, afterMs: number, now: number): boolean {
  if (afterMs <= 0 || alert.state !== 'open' || alert.severity !== 'critical') return false
  return now - Date.parse(alert.escalatedAt ?? alert.timestamp) >= afterMs
}

export function escalated (alert: Alert, now: number): Alert {
  const at = iso(now)
  return { ...alert, updatedAt: at, escalations: (alert.escalations ?? 0) + 1, escalatedAt: at }
}
