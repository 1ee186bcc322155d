/**
 * Grafana's webhook contact point, mapped onto this server's alerts: each
 * alert of a (validated) payload becomes one step (raise by fingerprint, or
 * resolve), and the receiver runs them through the publisher, as for
 * Alertmanager, whose payload Grafana's resembles (it is built from the same
 * alert model) without being it: version "1", its own URLs and values.
 */
import type { AlertDetails, AlertFields } from '../../schemas/events'
import type { AlertmanagerResult as Result, GrafanaAlert, GrafanaPayload } from '../../schemas/integrations'
import { ALL_RIGHTS, type Publisher, type Rights } from './publisher'
import { fit, runSteps, severityOf, type ReceiverStep } from './alertmanager'
import { keptDetails } from './details'

export interface GrafanaMapping {
  /** The label whose value is the location; `grafana_folder` when it is absent. */
  locationLabel: string
  /** Labels whose values become tags, after the alertname. */
  tagLabels: string[]
}

export type Step = ReceiverStep

const LINK = /^[hH][tT][tT][pP][sS]?:\/\/\S+$/
const MAX_TAGS = 10
const SEPARATOR = new Uint8Array([0xff])
const FNV_OFFSET = 14695981039346656037n
const FNV_PRIME = 1099511628211n
const U64 = (1n << 64n) - 1n

/**
 * The fingerprint Grafana (and Prometheus) give a label set: FNV-1a 64 over
 * the names in byte order, each name and value followed by 0xff, in 16 hex
 * digits. An alert sent without one is then keyed as Grafana keys it.
 */
export function labelsFingerprint (labels: Record<string, string>): string {
  let hash = FNV_OFFSET
  const add = (bytes: Uint8Array): void => {
    for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & U64
  }
  const names = Object.keys(labels).map((name) => Buffer.from(name)).sort(Buffer.compare)
  for (const name of names) {
    add(name)
    add(SEPARATOR)
    add(Buffer.from(labels[name.toString()] as string))
    add(SEPARATOR)
  }
  return hash.toString(16).padStart(16, '0')
}

export function keyOf (alert: Pick<GrafanaAlert, 'fingerprint' | 'labels'>): string {
  const fingerprint = alert.fingerprint !== undefined && alert.fingerprint !== '' ? alert.fingerprint : labelsFingerprint(alert.labels ?? {})
  return `grafana:${fingerprint}`
}

const usable = (url: string | undefined): url is string => url !== undefined && url.length <= 2000 && LINK.test(url)

/** What an alert carries besides the fields of an alert: its values and its URLs, for whoever looks into it. */
function detailsOf (alert: GrafanaAlert): AlertDetails | undefined {
  const details: AlertDetails = {}
  if (alert.values !== undefined && alert.values !== null && Object.keys(alert.values).length > 0) details.values = alert.values
  if (alert.valueString !== undefined && alert.valueString !== '') details.valueString = alert.valueString
  const annotations = alert.annotations ?? {}
  for (const [name, url] of [['runbook_url', annotations.runbook_url], ['panelURL', alert.panelURL], ['dashboardURL', alert.dashboardURL], ['generatorURL', alert.generatorURL], ['silenceURL', alert.silenceURL], ['imageURL', alert.imageURL]] as const) {
    if (url !== undefined && url !== '') details[name] = url
  }
  return keptDetails(details)
}

/** The step one alert of a payload asks for. */
export function stepOf (alert: GrafanaAlert, { locationLabel, tagLabels }: GrafanaMapping): Step {
  const key = keyOf(alert)
  if (alert.status === 'resolved') return { kind: 'resolve', key }
  const labels = alert.labels ?? {}
  const annotations = alert.annotations ?? {}
  const fields: AlertFields & { key: string } = {
    key,
    message: fit(annotations.summary, 1000) ?? fit(annotations.description, 1000) ?? fit(labels.alertname, 1000) ?? `Grafana alert ${key.slice('grafana:'.length)}`,
    location: fit(labels[locationLabel], 200) ?? fit(labels.grafana_folder, 200) ?? 'grafana',
    severity: severityOf(labels.severity)
  }
  // What to do first, then what to look at: the runbook, the panel, the dashboard, the rule.
  const link = [annotations.runbook_url, alert.panelURL, alert.dashboardURL, alert.generatorURL].find(usable)
  if (link !== undefined) fields.link = link
  const tags: string[] = []
  for (const name of ['alertname', ...tagLabels]) {
    const tag = fit(labels[name], 50)
    if (tag !== undefined && !tags.includes(tag) && tags.length < MAX_TAGS) tags.push(tag)
  }
  if (tags.length > 0) fields.tags = tags
  const details = detailsOf(alert)
  if (details !== undefined) fields.details = details
  return { kind: 'raise', fields }
}

/** Runs a payload's steps (see runSteps in alertmanager.ts), by "grafana". */
export async function receive (payload: GrafanaPayload, publisher: Pick<Publisher, 'publish' | 'act'>, mapping: GrafanaMapping, rights: Rights = ALL_RIGHTS): Promise<Result> {
  return await runSteps(payload.alerts.map((alert) => stepOf(alert, mapping)), publisher, 'grafana', 'resolved in Grafana', rights)
}
