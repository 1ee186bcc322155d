import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { actionLinkErrors, httpError, statusOf, type ErrorCode } from '../schemas/errors'
import { Alert, type Alert as AlertType } from '../schemas/events'
import { linkActor, publicUrlOf, verifyLink, type LinkClaims } from '../plugins/core/action-links'
import { AlertConflictError } from '../plugins/core/errors'
import type { ActResult } from '../plugins/core/publisher'

const LinkParams = Type.Object({
  id: Type.String({ maxLength: 100, description: 'The alert\'s id.' }),
  action: Type.String({ maxLength: 20, description: 'ack or resolve.' })
})
const LinkQuery = Type.Object({
  by: Type.Optional(Type.String({ maxLength: 100, description: 'The receiver the link was sent to.' })),
  expires: Type.Optional(Type.String({ maxLength: 20, description: 'When the link stops working (ms since the epoch).' })),
  sig: Type.Optional(Type.String({ maxLength: 100, description: 'The link\'s signature (HMAC-SHA256, base64url).' }))
})
const ActionDone = Type.Object({
  action: Type.Union([Type.Literal('acknowledge'), Type.Literal('resolve')]),
  by: Type.String({ description: 'Who it is recorded as: notify:<receiver>.' }),
  alert: Alert
})
// A browser (Accept: text/html) gets an HTML page; any other client JSON.
const Answer = Type.Union([ActionDone, Type.String({ description: 'The HTML page a browser (Accept: text/html) gets.' })])

const VERB = { ack: 'Acknowledge', resolve: 'Resolve' } as const
const DONE = { ack: 'acknowledged', resolve: 'resolved' } as const

const escapeHtml = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll('\'', '&#39;')

// Inline style is allowed by the server's CSP (style-src 'unsafe-inline'); there is no script at all.
function page (title: string, body: string): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>` +
    '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}' +
    'dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}' +
    'button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}</style>' +
    `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`
}

function details (alert: AlertType): string {
  const rows: Array<[string, string]> = [['Message', alert.message], ['Location', alert.location], ['Severity', alert.severity], ['State', alert.state], ['Raised', alert.timestamp]]
  if (alert.acknowledgedBy !== undefined) rows.push(['Acknowledged by', alert.acknowledgedBy])
  if (alert.resolvedBy !== undefined) rows.push(['Resolved by', alert.resolvedBy])
  return `<dl>${rows.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`
}

/** Why nothing is to be done: the alert is already where the link would take it. */
function alreadyDone (alert: AlertType, action: LinkClaims['action']): string | undefined {
  if (alert.state === 'resolved') return `the alert was already resolved by ${alert.resolvedBy ?? 'anonymous'}; nothing changed`
  if (action === 'ack' && alert.state === 'acknowledged') return `the alert was already acknowledged by ${alert.acknowledgedBy ?? 'anonymous'}; nothing changed`
  return undefined
}

const wantsHtml = (request: FastifyRequest): boolean => (request.headers.accept ?? '').includes('text/html')

// The Acknowledge and Resolve links of notifications. No token: the signed
// link is the credential, for one alert and one action, until it expires.
// GET changes nothing (link previews and mail scanners open links); it shows
// a page whose form POSTs to the same URL, where the action happens.
const actions: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, backend: { store }, timers, notifications } = fastify
  const publicUrl = publicUrlOf(fastify.config.PUBLIC_URL)
  // A form posts application/x-www-form-urlencoded, ntfy's http action nothing: the body is never read.
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 }, (_request, _body, done) => { done(null, undefined) })

  /** The link's claims, or the error answered for it. */
  async function check (request: { params: Static<typeof LinkParams>, query: Static<typeof LinkQuery> }): Promise<LinkClaims> {
    const verified = verifyLink(await notifications.actionSecret(), { alertId: request.params.id, action: request.params.action, ...request.query }, timers.now())
    if (verified === 'invalid') throw httpError('ACTION_LINK_INVALID', 'this link is not valid: it was changed, or it is for another alert or action')
    if (verified === 'expired') throw httpError('ACTION_LINK_EXPIRED', `this link expired at ${new Date(Number(request.query.expires)).toISOString()}; open the alert on the dashboard`)
    return verified
  }

  /** Answers an error as a page for a browser, else throws it for the one error handler. */
  async function fail (request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<FastifyReply> {
    const code = (err as { code?: unknown }).code
    if (!wantsHtml(request) || typeof code !== 'string' || !['ACTION_LINK_INVALID', 'ACTION_LINK_EXPIRED', 'ALERT_NOT_FOUND', 'ACTION_ALREADY_DONE', 'ALERT_CONFLICT'].includes(code)) throw err
    const message = (err as Error).message
    const dashboard = publicUrl === undefined ? '' : `<p><a href="${escapeHtml(publicUrl)}/">Open the dashboard</a></p>`
    return await reply.code(statusOf(code as ErrorCode)).type('text/html; charset=utf-8').header('cache-control', 'no-store')
      .send(page('Nothing was done', `<p>${escapeHtml(message.charAt(0).toUpperCase() + message.slice(1))}.</p>${dashboard}`))
  }

  const schema = (summary: string, description: string) => ({
    tags: ['alerts'],
    summary,
    description,
    params: LinkParams,
    querystring: LinkQuery,
    response: { 200: Answer, ...actionLinkErrors }
  })

  fastify.get('/alerts/:id/actions/:action', {
    config: { public: true },
    schema: schema('The page of an Acknowledge or Resolve link of a notification',
      'Shows the alert and a button that POSTs to the same URL. Changes nothing: link previews and mail scanners open links. No token: the link is signed (ACTION_SECRET) for one alert and one action, until it expires (ACTION_TTL). Any client but a browser gets, as JSON, what the link would do.')
  }, async (request, reply) => {
    try {
      const claims = await check(request)
      const found = await store.alert(claims.alertId)
      if (found === undefined) throw httpError('ALERT_NOT_FOUND', `no alert with id ${claims.alertId}`)
      const { alert } = found
      const done = alreadyDone(alert, claims.action)
      const verb = VERB[claims.action]
      const form = done === undefined
        // No action: the form posts to the page's own address, the one the link named (under
        // PUBLIC_URL's path behind a proxy, which request.url, as the server sees it, lacks).
        ? `<form method="post"><p><button type="submit">${verb}</button></p></form><p>It will be recorded as ${escapeHtml(linkActor(claims.receiver))}.</p>`
        : `<p>${escapeHtml(done.charAt(0).toUpperCase() + done.slice(1))}.</p>`
      void reply.header('cache-control', 'no-store')
      if (!wantsHtml(request)) return { action: claims.action === 'ack' ? 'acknowledge' : 'resolve', by: linkActor(claims.receiver), alert }
      return await reply.type('text/html; charset=utf-8').send(page(done === undefined ? `${verb} this alert?` : 'Nothing to do', `${details(alert)}${form}`))
    } catch (err) {
      return await fail(request, reply, err)
    }
  })

  fastify.post('/alerts/:id/actions/:action', {
    config: { public: true },
    schema: schema('Acknowledge or resolve an alert by the signed link of a notification',
      'Does what the link says, recorded as notify:<receiver>. Again, or after somebody else did it: 409 ACTION_ALREADY_DONE, nothing changed.')
  }, async (request, reply) => {
    try {
      const claims = await check(request)
      const by = linkActor(claims.receiver)
      const action = claims.action === 'ack' ? 'acknowledge' : 'resolve'
      let result: ActResult
      try {
        result = await publisher.act({ id: claims.alertId }, action, by)
      } catch (err) {
        // Acknowledging a resolved alert: already taken care of, rather than a conflict.
        if (!(err instanceof AlertConflictError)) throw err
        const now = await store.alert(claims.alertId)
        throw httpError('ACTION_ALREADY_DONE', (now === undefined ? undefined : alreadyDone(now.alert, claims.action)) ?? 'the alert is already resolved; nothing changed')
      }
      if (!result.changed) throw httpError('ACTION_ALREADY_DONE', alreadyDone(result.alert, claims.action) ?? 'nothing changed')
      void reply.header('cache-control', 'no-store')
      if (!wantsHtml(request)) return { action, by, alert: result.alert }
      return await reply.type('text/html; charset=utf-8').send(page(`Alert ${DONE[claims.action]}`, `<p>Recorded as ${escapeHtml(by)}.</p>${details(result.alert)}`))
    } catch (err) {
      return await fail(request, reply, err)
    }
  })
}

export default actions
