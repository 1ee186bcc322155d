/**
 * Alertmanager's webhook, mapped onto this server's alerts: a pure mapping
 * from each alert of a (validated) payload to one step, and the receiver that
 * runs those steps through the publisher. Every field of the mapping fits the
 * alert's own limits (text cut, links checked), so a payload that passed its
 * schema always maps whole: a client's mistake stores nothing.
 */
import { NOT_BLANK, SEVERITIES, type AlertFields, type Severity } from '../../schemas/events'
import type { AlertmanagerAlert, AlertmanagerPayload, AlertmanagerResult } from '../../schemas/integrations'
import { ALL_RIGHTS, type Publisher, type Rights } from './publisher'
import { AlertNotFoundError } from './errors'

export interface AlertmanagerMapping {
  /** The label whose value is the location; `job` when it is absent. */
  locationLabel: string
  /** Labels whose values become tags, after the alertname. */
  tagLabels: string[]
}

export interface RaiseStep {
  kind: 'raise'
  key: string
  message: string
  location: string
  severity: Severity
  link?: string
  tags?: string[]
}
export interface ResolveStep { kind: 'resolve', key: string }
export type Step = RaiseStep | ResolveStep

const VISIBLE = new RegExp(NOT_BLANK, 'u')
const LINK = /^[hH][tT][tT][pP][sS]?:\/\/\S+$/
const MAX_TAGS = 10

/** The text if it has something to show, cut to `max` code points (the last one an ellipsis when cut). */
export function fit (text: string | undefined, max: number): string | undefined {
  if (text === undefined || !VISIBLE.test(text)) return undefined
  const points = Array.from(text)
  if (points.length <= max) return text
  const cut = points.slice(0, max - 1).join('')
  // The cut may have left only blanks: then the text is unusable as such.
  return VISIBLE.test(cut) ? `${cut}…` : undefined
}

export const keyOf = (alert: Pick<AlertmanagerAlert, 'fingerprint'>): string => `alertmanager:${alert.fingerprint}`

export function severityOf (label: string | undefined): Severity {
  const wanted = label?.toLowerCase()
  return SEVERITIES.find((s) => s === wanted) ?? 'warning'
}

function tagsOf (labels: Record<string, string>, tagLabels: string[]): string[] | undefined {
  const tags: string[] = []
  for (const name of ['alertname', ...tagLabels]) {
    const tag = fit(labels[name], 50)
    if (tag !== undefined && !tags.includes(tag) && tags.length < MAX_TAGS) tags.push(tag)
  }
  return tags.length > 0 ? tags : undefined
}

/** The step one alert of a payload asks for. */
export function stepOf (alert: AlertmanagerAlert, { locationLabel, tagLabels }: AlertmanagerMapping): Step {
  const key = keyOf(alert)
  if (alert.status === 'resolved') return { kind: 'resolve', key }
  const { labels, annotations = {} } = alert
  const step: RaiseStep = {
    kind: 'raise',
    key,
    message: fit(annotations.summary, 1000) ?? fit(annotations.description, 1000) ?? fit(labels.alertname, 1000) ?? `Alertmanager alert ${alert.fingerprint}`,
    location: fit(labels[locationLabel], 200) ?? fit(labels.job, 200) ?? 'alertmanager',
    severity: severityOf(labels.severity)
  }
  const link = alert.generatorURL
  if (link !== undefined && link.length <= 2000 && LINK.test(link)) step.link = link
  const tags = tagsOf(labels, tagLabels)
  if (tags !== undefined) step.tags = tags
  return step
}

/** What a receiver's step does: raise (or repeat, by key) with these fields, or resolve by key. */
export type ReceiverStep = { kind: 'raise', fields: AlertFields & { key: string } } | { kind: 'resolve', key: string }

/**
 * Runs a receiver's steps in order (the payload was mapped whole before):
 * raises repeat by key, resolves resolve the open alert with their key, if
 * there is one. Without `operate`, a resolve reaches only an alert `source`
 * raised, and a repeat cannot lower the severity of one another source raised.
 */
export async function runSteps (steps: ReceiverStep[], publisher: Pick<Publisher, 'publish' | 'act'>, source: 'alertmanager' | 'grafana', note: string, rights: Rights): Promise<AlertmanagerResult> {
  const result: AlertmanagerResult = { raised: 0, repeated: 0, resolved: 0 }
  for (const step of steps) {
    if (step.kind === 'raise') {
      const alert = await publisher.publish({ type: 'alert', source, ...step.fields }, rights)
      if (alert.count === 1) result.raised++
      else result.repeated++
      continue
    }
    try {
      const target = rights.operate ? { key: step.key } : { key: step.key, source }
      if ((await publisher.act(target, 'resolve', source, note)).changed) result.resolved++
    } catch (err) {
      // Resolved there and never raised here (or already resolved by someone here,
      // or raised by another source and this credential may not resolve it): nothing to do.
      if (!(err instanceof AlertNotFoundError)) throw err
    }
  }
  return result
}

/** Runs a payload's steps (see runSteps), by "alertmanager". */
export async function receive (payload: AlertmanagerPayload, publisher: Pick<Publisher, 'publish' | 'act'>, mapping: AlertmanagerMapping, rights: Rights = ALL_RIGHTS): Promise<AlertmanagerResult> {
  const steps: ReceiverStep[] = payload.alerts.map((alert) => stepOf(alert, mapping)).map((step) => {
    if (step.kind === 'resolve') return step
    const { kind: _kind, ...fields } = step
    return { kind: 'raise', fields }
  })
  return await runSteps(steps, publisher, 'alertmanager', 'resolved in Alertmanager', rights)
}
