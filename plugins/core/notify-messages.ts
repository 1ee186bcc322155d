/**
 * What a notification says, whatever carries it: which routes an event goes
 * to, and the words, fields and links of its message.
 */
import type { Alert, Event } from '../../schemas/events'
import type { NotifyKind, OutboxDraft } from './backend'
import { matches } from './board'
import { alertOf } from './lifecycle'
import { routeMuted, type NotifyConfig } from './notify-config'
import type { AlertLinks } from './action-links'

/** What an event did to its alert, as a notification tells it; undefined for chat. */
export function notifyKindOf (event: Event): NotifyKind | undefined {
  if (event.type === 'alert') return 'raised'
  if (event.type === 'alert_update') return event.change
  return undefined
}

/** The outbox entries of one event: each receiver of each route that matches it and is not muted at `now` (its mute_time_intervals), once; none for a silenced alert. */
export function routeEvent (config: NotifyConfig, event: Event, newId: () => string, silenced: (alert: Alert) => boolean = () => false, now = Date.now()): OutboxDraft[] {
  const kind = notifyKindOf(event)
  const alert = alertOf(event)
  if (kind === undefined || alert === undefined || config.routes.length === 0 || silenced(alert)) return []
  // Each receiver once; held for the longest group of the routes that send it there.
  const receivers = new Map<string, number | undefined>()
  for (const route of config.routes) {
    if (!route.on.has(kind) || !matches(alert, route.filter) || routeMuted(config, route, now)) continue
    for (const name of route.to) {
      const before = receivers.get(name)
      receivers.set(name, route.groupMs === undefined ? before : Math.max(before ?? 0, route.groupMs))
    }
  }
  return [...receivers].map(([receiver, groupMs]) => groupMs === undefined ? { id: newId(), receiver, kind } : { id: newId(), receiver, kind, groupMs })
}

/**
 * The reminders due at `now` (routes with `repeat`): for each alert that is
 * open (not acknowledged) and not silenced, each route that matches it and
 * last told it (or raised it) `repeat` ago or more, one reminder each. `told`
 * keeps, per route and alert, when the last reminder went; it is updated here.
 */
export function remindersDue (config: NotifyConfig, alerts: Alert[], now: number, told: Map<string, number>, silenced: (alert: Alert) => boolean): { due: Reminder[], next: number } {
  const out: Reminder[] = []
  const open = new Set<string>()
  // When to look again: the next reminder due, and at the latest the shortest
  // repeat from now (an alert raised meanwhile is due no earlier than that).
  let next = Math.min(...config.routes.map((route) => now + (route.repeatMs ?? Infinity)))
  for (const alert of alerts) {
    if (alert.state !== 'open') continue
    open.add(alert.id)
    if (silenced(alert)) continue
    const raised = Date.parse(alert.timestamp)
    config.routes.forEach((route, i) => {
      // A muted route's reminder waits: it goes at the first check after its window, if still due.
      if (route.repeatMs === undefined || !matches(alert, route.filter) || routeMuted(config, route, now)) return
      const key = `${i}:${alert.id}`
      const last = told.get(key) ?? raised
      if (now - last < route.repeatMs) {
        next = Math.min(next, last + route.repeatMs)
        return
      }
      told.set(key, now)
      next = Math.min(next, now + route.repeatMs)
      out.push({ alert, receivers: [...new Set(route.to)], slot: `${alert.id}:${i}:${Math.floor((now - raised) / route.repeatMs)}`, periodMs: route.repeatMs })
    })
  }
  // Alerts acknowledged, resolved or gone are forgotten.
  for (const key of told.keys()) if (!open.has(key.slice(key.indexOf(':') + 1))) told.delete(key)
  return { due: out, next }
}

/** One route's reminder of one alert. */
export interface Reminder {
  alert: Alert
  receivers: string[]
  /**
   * The alert, the route and the period since the raise the reminder is
   * for: every instance of a cluster names the same reminder the same, so
   * that one sends it.
   */
  slot: string
  /** The route's `repeat`. */
  periodMs: number
}

/** The server's public base URL (DOMAIN, as the API documents give it), or undefined without DOMAIN. */
export function publicBase (domain: string): string | undefined {
  if (domain === '') return undefined
  return (/^https?:\/\//.test(domain) ? domain : `http://${domain}`).replace(/\/+$/, '')
}

/** Everything a receiver's message is made of. */
export interface Notice {
  kind: NotifyKind
  alert: Alert
  /** Who acknowledged or resolved it, and what they said. */
  by?: string
  note?: string
  /** When it happened (the event's timestamp). */
  at: string
  /** One line: what happened, to what, where. */
  headline: string
  /** "raised", "repeated x 3", "acknowledged by ana", ... */
  happened: string
  /** The alert's fields worth showing, in order, as label and value. */
  fields: Array<[string, string]>
  /** The alert on this server (its timeline), when DOMAIN is set. */
  url?: string
  /** The dashboard, when DOMAIN is set. */
  dashboard?: string
  /** Signed Acknowledge and Resolve links (PUBLIC_URL set, the alert not resolved). */
  actions?: AlertLinks
}

function happenedOf (kind: NotifyKind, alert: Alert, by: string | undefined): string {
  switch (kind) {
    case 'raised': return 'raised'
    case 'repeated': return `repeated x ${alert.count}`
    case 'escalated': return `escalated${alert.escalations === undefined ? '' : ` (${alert.escalations === 1 ? 'once' : `${alert.escalations} times`}), not acknowledged`}`
    case 'acknowledged': return `acknowledged by ${by ?? alert.acknowledgedBy ?? 'anonymous'}`
    case 'resolved': return `resolved by ${by ?? alert.resolvedBy ?? 'anonymous'}`
    case 'reminder': return `still open, not acknowledged (raised ${alert.timestamp})`
  }
}

/** The message of one event, for any receiver. */
export function noticeOf (kind: NotifyKind, event: Event, domain: string, links?: (alert: Alert) => AlertLinks): Notice {
  const alert = alertOf(event) as Alert
  const by = event.type === 'alert_update' ? event.by : undefined
  const note = event.type === 'alert_update' ? event.note : undefined
  const happened = happenedOf(kind, alert, by)
  const fields: Array<[string, string]> = [
    ['Severity', alert.severity],
    ['Location', alert.location],
    ['State', alert.state],
    ['Count', String(alert.count)],
    ['Raised', alert.timestamp],
    ['Source', alert.source]
  ]
  if (alert.key !== undefined) fields.push(['Key', alert.key])
  if (alert.tags !== undefined && alert.tags.length > 0) fields.push(['Tags', alert.tags.join(', ')])
  if (alert.acknowledgedBy !== undefined) fields.push(['Acknowledged by', alert.acknowledgedBy])
  if (alert.resolvedBy !== undefined) fields.push(['Resolved by', alert.resolvedBy])
  if (note !== undefined) fields.push(['Note', note])
  if (alert.link !== undefined) fields.push(['Link', alert.link])
  const notice: Notice = {
    kind,
    alert,
    at: event.timestamp,
    headline: `[${alert.severity.toUpperCase()}] ${happened}: ${alert.message} at ${alert.location}`,
    happened,
    fields
  }
  if (by !== undefined) notice.by = by
  if (note !== undefined) notice.note = note
  const base = publicBase(domain)
  if (base !== undefined) {
    notice.url = `${base}/alerts/${alert.id}/timeline`
    notice.dashboard = `${base}/`
  }
  const actions = links?.(alert)
  if (actions !== undefined && (actions.acknowledge !== undefined || actions.resolve !== undefined)) notice.actions = actions
  return notice
}

/** The message as plain text: the headline, the fields, the links. */
export function plainText (notice: Notice): string {
  const lines = [notice.headline, '', ...notice.fields.map(([label, value]) => `${label}: ${value}`)]
  if (notice.url !== undefined) lines.push('', `Timeline: ${notice.url}`)
  if (notice.dashboard !== undefined) lines.push(`Dashboard: ${notice.dashboard}`)
  if (notice.actions?.acknowledge !== undefined) lines.push(`Acknowledge: ${notice.actions.acknowledge}`)
  if (notice.actions?.resolve !== undefined) lines.push(`Resolve: ${notice.actions.resolve}`)
  return `${lines.join('\n')}\n`
}
