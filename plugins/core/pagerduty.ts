/**
 * PagerDuty's Events API v2, mapped onto this server's alerts: nearly every
 * monitoring tool (Alertmanager, Grafana, Zabbix, Uptime Kuma, ...) can send
 * it to a URL of the user's choosing. A trigger raises or repeats the alert
 * of its dedup_key, acknowledge and resolve act on the open one, all through
 * the one publisher. Like Alertmanager's mapping, every field is cut to the
 * alert's limits, so an event that passed its schema always maps.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { AlertFields, Severity } from '../../schemas/events'
import type { PagerDutyEvent, PagerDutySeverity } from '../../schemas/integrations'
import type { Publisher } from './publisher'
import { AlertNotFoundError } from './errors'
import { fit } from './alertmanager'
import { keptDetails } from './details'

const PREFIX = 'pagerduty:'
const KEY_MAX = 200
const LINK = /^[hH][tT][tT][pP][sS]?:\/\/\S+$/
const MAX_TAGS = 10

/**
 * The alert's key for a dedup_key: prefixed, so that a sender cannot reach
 * alerts of other sources. PagerDuty takes dedup_keys up to 255 characters
 * and keys here are up to 200: a longer one is keyed by its SHA-256, the
 * same for every event that carries it.
 */
export function keyOf (dedupKey: string): string {
  const key = PREFIX + dedupKey
  return key.length <= KEY_MAX ? key : `${PREFIX}sha256:${createHash('sha256').update(dedupKey).digest('hex')}`
}

/**
 * PagerDuty has four levels, this server three. PagerDuty itself treats
 * critical and error alike (both are high urgency: they page someone), and
 * warning and info as low urgency; so error is critical here.
 */
export function severityOf (severity: PagerDutySeverity | undefined): Severity {
  if (severity === 'critical' || severity === 'error') return 'critical'
  return severity === 'info' ? 'info' : 'warning'
}

const usableLink = (href: string | undefined): href is string => href !== undefined && href.length <= 2000 && LINK.test(href)

/** The alert a trigger raises (or repeats), under `key`. */
export function alertOf (event: PagerDutyEvent, dedupKey: string): AlertFields & { key: string } {
  const payload = event.payload ?? {}
  const fields: AlertFields & { key: string } = {
    key: keyOf(dedupKey),
    message: fit(payload.summary, 1000) ?? fit(`PagerDuty event ${dedupKey}`, 1000) as string,
    location: fit(payload.source, 200) ?? fit(payload.component, 200) ?? fit(event.client, 200) ?? 'pagerduty',
    severity: severityOf(payload.severity)
  }
  const link = event.links?.map((l) => l.href).find(usableLink) ?? (usableLink(event.client_url) ? event.client_url : undefined)
  if (link !== undefined) fields.link = link
  const tags: string[] = []
  for (const text of [payload.component, payload.group, payload.class]) {
    const tag = fit(text, 50)
    if (tag !== undefined && !tags.includes(tag) && tags.length < MAX_TAGS) tags.push(tag)
  }
  if (tags.length > 0) fields.tags = tags
  const details = keptDetails(payload.custom_details)
  if (details !== undefined) fields.details = details
  return fields
}

/** A dedup_key as PagerDuty makes them: 32 hex digits. */
export const newDedupKey = (): string => randomUUID().replaceAll('-', '')

/**
 * Runs one event: a trigger raises or repeats, acknowledge and resolve act on
 * the open alert of the key (`by` whoever sent it), and an unknown key is
 * fine, as PagerDuty has it. Resolves with the dedup_key to answer: the one
 * sent (never the prefixed key), or the one generated for a trigger.
 */
export async function enqueue (event: PagerDutyEvent, publisher: Pick<Publisher, 'publish' | 'act'>, by: string, generate: () => string = newDedupKey): Promise<string> {
  const sent = event.dedup_key !== undefined && event.dedup_key !== '' ? event.dedup_key : undefined
  if (event.event_action === 'trigger') {
    const dedupKey = sent ?? generate()
    await publisher.publish({ type: 'alert', source: 'pagerduty', ...alertOf(event, dedupKey) })
    return dedupKey
  }
  // The schema requires a dedup_key here.
  const dedupKey = sent ?? ''
  try {
    await publisher.act({ key: keyOf(dedupKey) }, event.event_action, by)
  } catch (err) {
    if (!(err instanceof AlertNotFoundError)) throw err
  }
  return dedupKey
}
