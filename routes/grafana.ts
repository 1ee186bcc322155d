import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AlertmanagerResult, GrafanaPayload } from '../schemas/integrations'
import { ErrorResponse, publishErrors } from '../schemas/errors'
import { receive, type GrafanaMapping } from '../plugins/core/grafana'
import { payloadBudget } from './shared'

// Grafana sends a group's alerts in one payload, with the legacy message of them all besides.
const BODY_LIMIT = 1024 * 1024

const labelList = (value: string): string[] => value.split(',').map((label) => label.trim()).filter((label) => label !== '')

const grafana: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, allows } = fastify
  const { GRAFANA_LOCATION_LABEL, GRAFANA_TAG_LABELS } = fastify.config
  const mapping: GrafanaMapping = { locationLabel: GRAFANA_LOCATION_LABEL, tagLabels: labelList(GRAFANA_TAG_LABELS) }

  // Grafana's webhook sends with POST, or PUT when the contact point says so.
  fastify.route({
    method: ['POST', 'PUT'],
    url: '/integrations/grafana',
    bodyLimit: BODY_LIMIT,
    config: { scope: 'publish' },
    schema: {
      tags: ['integrations'],
      summary: 'Grafana webhook contact point',
      description: 'Point a Grafana webhook contact point at this URL (Authorization header scheme Bearer, credentials the API token). ' +
        'Each firing alert raises an alert with key grafana:<fingerprint> and source "grafana" (or repeats the open one); each resolved alert ' +
        'resolves it (by "grafana"; without the operate scope, only an alert Grafana raised). severity from the severity label (critical, warning, info; anything else is warning), location from ' +
        'GRAFANA_LOCATION_LABEL (then grafana_folder), message from annotations.summary (then description, then alertname), link from ' +
        'annotations.runbook_url (then panelURL, dashboardURL, generatorURL), tags from alertname and GRAFANA_TAG_LABELS, details from values ' +
        'and the URLs. The whole payload is checked before anything is stored: a malformed one is 400 naming the field and stores nothing. ' +
        'Each alert of the payload counts against the publish budget (RATE_LIMIT_MAX): a payload that would pass it is 429 and stores nothing.',
      body: GrafanaPayload,
      response: {
        200: AlertmanagerResult,
        ...publishErrors,
        413: { ...ErrorResponse, description: 'Body over 1 MiB.' },
        400: { ...publishErrors[400], description: 'Not a Grafana version 1 payload: the message names the first wrong field.' }
      }
    },
    preHandler: payloadBudget(fastify),
    handler: async (request) => await receive(request.body, publisher, mapping, { operate: allows(request, 'operate') })
  })
}

export default grafana
