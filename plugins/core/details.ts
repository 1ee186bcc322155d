/**
 * An alert's details: what an integration's sender added for people to read
 * (PagerDuty's custom_details, Grafana's values and links), kept on the alert
 * as sent, within DETAILS_MAX_BYTES so that one sender cannot make every
 * stored alert and every frame large.
 */
import { DETAILS_MAX_BYTES, type AlertDetails } from '../../schemas/events'

/**
 * The details to keep for `value`: an object as it is; any other JSON value
 * (PagerDuty allows a string) under `value`; nothing for null or absent.
 * Past the bound, one entry saying what was dropped takes the place of the
 * details, as Alertmanager does with PagerDuty's own limit: the alert is
 * still raised, and whoever reads it knows there was more.
 */
export function keptDetails (value: unknown): AlertDetails | undefined {
  if (value === undefined || value === null) return undefined
  const details: AlertDetails = typeof value === 'object' && !Array.isArray(value) ? value as AlertDetails : { value }
  if (Object.keys(details).length === 0) return undefined
  const bytes = Buffer.byteLength(JSON.stringify(details))
  if (bytes <= DETAILS_MAX_BYTES) return details
  return { error: `details dropped: ${bytes} bytes of JSON, more than the ${DETAILS_MAX_BYTES} kept` }
}
