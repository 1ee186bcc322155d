import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AlertmanagerPayload, AlertmanagerResult } from '../schemas/integrations'
import { ErrorResponse, publishErrors } from '../schemas/errors'
import { payloadBudget } from './shared'
import { receive, type AlertmanagerMapping } from '../plugins/core/alertmanager'

// Alertmanager sends a group's alerts in one payload; a big group is larger than the API's 64 KiB.
const BODY_LIMIT = 1024 * 1024

const alertmanager: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, allows } = fastify
  const { AM_LOCATION_LABEL, AM_TAG_LABELS } = fastify.config
  const mapping: AlertmanagerMapping = {
    locationLabel: AM_LOCATION_LABEL,
    tagLabels: AM_TAG_LABELS.split(',').map((label) => label.trim()).filter((label) => label !== '')
  }

  fastify.post('/integrations/alertmanager', {
    bodyLimit: BODY_LIMIT,
    config: { scope: 'publish' },
    schema: {
      tags: ['integrations'],
      summary: 'Alertmanager webhook receiver',
      description: 'Point an Alertmanager webhook_config at this URL (with the API token as http_config.authorization.credentials). ' +
        'Each firing alert raises an alert with key alertmanager:<fingerprint> and source "alertmanager" (or repeats the open one); ' +
        'each resolved alert resolves it (by "alertmanager"; without the operate scope, only an alert Alertmanager raised). severity from the severity label (critical, warning, info; anything else ' +
        'is warning), location from AM_LOCATION_LABEL (then job), message from annotations.summary (then description, then alertname), ' +
        'link from generatorURL, tags from alertname and AM_TAG_LABELS. The whole payload is checked before anything is stored: ' +
        'a malformed one is 400 naming the field and stores nothing. Each alert of the payload counts against the publish budget (RATE_LIMIT_MAX): ' +
        'a payload that would pass it is 429 and stores nothing.',
      body: AlertmanagerPayload,
      response: {
        200: AlertmanagerResult,
        ...publishErrors,
        413: { ...ErrorResponse, description: 'Body over 1 MiB.' },
        400: { ...publishErrors[400], description: 'Not an Alertmanager version 4 payload: the message names the first wrong field.' }
      }
    },
    preHandler: payloadBudget(fastify)
  }, async (request) => await receive(request.body, publisher, mapping, { operate: allows(request, 'operate') }))
}

export default alertmanager
