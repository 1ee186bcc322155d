/**
 * Acknowledge and Resolve links in notifications: real receivers on loopback
 * get signed links; a GET shows a page and changes nothing; a POST acts,
 * once, recorded as notify:<receiver>; a changed, swapped, expired or
 * replayed link does nothing. The secret is kept by each backend.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { FastifyInstance } from 'fastify'
import { build, buildLogged } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { postAlert } from './helpers/http'
import { httpReceiver } from './helpers/receivers'
import { once, waitFor } from './helpers/wait'
import { BACKEND_KINDS, backendTest, makeBackend } from './helpers/backends'
import { redisPrefix, redisTest, SHARED_REDIS_URL } from './helpers/redis'
import { createLinkSigner, linkPath, publicUrlOf, signLink, verifyLink } from '../plugins/core/action-links'
import { createRedisBackend } from '../plugins/core/redis-backend'
import { createSqliteBackend } from '../plugins/core/sqlite-backend'
import { noticeOf, plainText } from '../plugins/core/notify-messages'
import { emailHtml, ntfyHeaders, slackBody, slackGroupBody, webhookBody } from '../plugins/core/notify-receivers'
import { redactToken, redactUrlToken } from '../plugins/core/redact'
import { stamp } from '../plugins/core/publisher'

type Json = Record<string, any>
const HTML = { accept: 'text/html,application/xhtml+xml' }

function notifyFile (t: Test, text: string): string {
  const own = mkdtempSync(join(tmpdir(), 'alert-actions-'))
  t.teardown(() => rmSync(own, { recursive: true, force: true }))
  const file = join(own, 'notify.yml')
  writeFileSync(file, text)
  return file
}

/** The path and query of a link, for inject. */
const pathOf = (link: string): string => {
  const url = new URL(link)
  return `${url.pathname}${url.search}`
}

async function stateOf (fastify: FastifyInstance, id: string): Promise<Json> {
  return (await fastify.inject(`/alerts/${id}/timeline`)).json() as Json
}

t.test('a webhook, Slack and ntfy get signed links; GET shows a page, POST acts once, as notify:<receiver>; hostile links do nothing', async (t) => {
  const hook = await httpReceiver(t)
  const chat = await httpReceiver(t)
  const phone = await httpReceiver(t)
  const file = notifyFile(t, `
receivers:
  ticketing: { webhook: { url: "${hook.url}/hook" } }
  ops-chat: { slack: { url: "${chat.url}/slack" } }
  phone: { ntfy: { url: "${phone.url}/ops" } }
routes:
  - to: [ticketing, ops-chat, phone]
    on: [raised]
`)
  const { clock, timers } = mockTimers()
  const fastify = await build(t, { NOTIFY_FILE: file, PUBLIC_URL: 'https://alerts.example.com/', ACTION_TTL: '1h', STORE: 'sqlite', DATA_DIR: t.testdir() }, { timers })
  const alert = (await postAlert(fastify, { message: 'disk full', location: 'db1', severity: 'critical' })).json()
  const other = (await postAlert(fastify, { message: 'cpu hot', location: 'web1', severity: 'warning' })).json()
  await waitFor(() => hook.requests.length >= 2 && chat.requests.length >= 2 && phone.requests.length >= 2)

  const body = JSON.parse(hook.requests.find((r) => r.body.includes(alert.id))?.body ?? '{}') as Json
  const { acknowledge, resolve } = body.actions as { acknowledge: string, resolve: string }
  t.match(acknowledge, new RegExp(`^https://alerts\\.example\\.com/alerts/${alert.id}/actions/ack\\?by=ticketing&expires=\\d+&sig=[\\w-]{43}$`), 'the webhook body carries the links, under PUBLIC_URL')
  t.match(resolve, new RegExp(`/alerts/${alert.id}/actions/resolve\\?by=ticketing&`))
  t.equal(body.url, `https://alerts.example.com/alerts/${alert.id}/timeline`, 'PUBLIC_URL is the base of the other links too')
  const secret = await fastify.notifications.actionSecret()
  for (const request of [...hook.requests, ...chat.requests, ...phone.requests]) {
    t.notOk(JSON.stringify(request).includes(secret), 'no message carries the secret')
  }
  const slack = chat.requests.find((r) => r.body.includes(alert.id))?.body ?? ''
  t.match(slack, /\|Acknowledge>/, 'Slack: an Acknowledge link')
  t.match(slack, /actions\/ack\?by=ops-chat&/, 'signed for the Slack receiver')
  const ntfy = phone.requests.find((r) => String(r.headers['x-actions']).includes(alert.id))
  t.match(String(ntfy?.headers['x-actions']), new RegExp(`^http, Acknowledge, https://alerts\\.example\\.com/alerts/${alert.id}/actions/ack\\?by=phone&[^,;]+, method=POST, clear=true; http, Resolve, `), 'ntfy: http action buttons')

  const ack = pathOf(acknowledge)
  // GET: a page with a form posting to the same URL, no script, and nothing done.
  const page = await fastify.inject({ url: ack, headers: HTML })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.headers['content-security-policy'], /form-action 'self'/, 'the server\'s CSP is on the page')
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.notMatch(page.body, /<script/i, 'no script, inline or not')
  // No action attribute: the browser posts to the address it opened, whatever path a proxy put before it.
  t.match(page.body, '<form method="post"><p><button type="submit">Acknowledge</button></p></form>')
  t.match(page.body, '<title>Acknowledge this alert?</title>')
  t.match(page.body, 'disk full')
  t.match(page.body, 'notify:ticketing')
  t.equal(page.headers['cache-control'], 'no-store')
  const asJson = await fastify.inject({ url: ack })
  t.same(asJson.json(), { action: 'acknowledge', by: 'notify:ticketing', alert: { ...asJson.json().alert, state: 'open' } }, 'a GET without text/html: what the link would do, as JSON')
  t.equal((await stateOf(fastify, alert.id)).alert.state, 'open', 'GET changed nothing')

  // Hostile links: changed signature, another alert, another action, a later expiry, missing parts.
  const url = new URL(acknowledge)
  const sig = url.searchParams.get('sig') ?? ''
  const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`
  const hostile: Array<[string, string]> = [
    ['a changed signature', ack.replace(sig, flipped)],
    ['another alert\'s id', ack.replace(alert.id, other.id)],
    ['the ack link used to resolve', ack.replace('/actions/ack?', '/actions/resolve?')],
    ['a later expiry', ack.replace(/expires=\d+/, `expires=${Number(url.searchParams.get('expires')) + 86_400_000}`)],
    ['another receiver', ack.replace('by=ticketing', 'by=phone')],
    ['no signature', ack.replace(/&sig=.*$/, '')],
    ['a short signature', ack.replace(sig, sig.slice(0, 20))],
    ['an unknown action', ack.replace('/actions/ack?', '/actions/delete?')],
    ['a non-numeric expiry', ack.replace(/expires=\d+/, 'expires=soon')]
  ]
  for (const [name, path] of hostile) {
    const res = await fastify.inject({ method: 'POST', url: path })
    t.equal(res.statusCode, 403, name)
    t.equal(res.json().code, 'ACTION_LINK_INVALID', name)
  }
  const refusedPage = await fastify.inject({ method: 'POST', url: hostile[0]?.[1] ?? '', headers: HTML })
  t.equal(refusedPage.statusCode, 403)
  t.match(refusedPage.body, /<h1>Nothing was done<\/h1><p>This link is not valid/, 'a browser gets a page saying so')
  t.equal((await stateOf(fastify, alert.id)).alert.state, 'open', 'no hostile link changed anything')
  t.equal((await stateOf(fastify, other.id)).alert.state, 'open')

  // POST (a browser's form): acknowledged, recorded as the receiver.
  const done = await fastify.inject({ method: 'POST', url: ack, headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.equal(done.statusCode, 200)
  t.match(done.body, '<h1>Alert acknowledged</h1>')
  const after = await stateOf(fastify, alert.id)
  t.match(after.alert, { state: 'acknowledged', acknowledgedBy: 'notify:ticketing' })
  const changes = after.timeline.filter((e: Json) => e.kind !== 'notified').length

  // Replayed: answered clearly, nothing changes.
  const again = await fastify.inject({ method: 'POST', url: ack })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'ACTION_ALREADY_DONE', message: 'the alert was already acknowledged by notify:ticketing; nothing changed' })
  const againPage = await fastify.inject({ method: 'POST', url: ack, headers: HTML })
  t.equal(againPage.statusCode, 409)
  t.match(againPage.body, 'The alert was already acknowledged by notify:ticketing; nothing changed.')
  t.equal((await stateOf(fastify, alert.id)).timeline.filter((e: Json) => e.kind !== 'notified').length, changes, 'no new change on the timeline')
  const shown = await fastify.inject({ url: ack, headers: HTML })
  t.notMatch(shown.body, '<form', 'the page of a link with nothing left to do has no button')
  t.match(shown.body, '<title>Nothing to do</title>', 'nor asks the question')

  // Resolve (ntfy's http action: a POST with no body, JSON back), then the ack link on a resolved alert.
  const resolved = await fastify.inject({ method: 'POST', url: pathOf(resolve) })
  t.equal(resolved.statusCode, 200)
  t.match(resolved.json(), { action: 'resolve', by: 'notify:ticketing', alert: { state: 'resolved', resolvedBy: 'notify:ticketing' } })
  const late = await fastify.inject({ method: 'POST', url: ack })
  t.equal(late.statusCode, 409)
  t.match(late.json(), { code: 'ACTION_ALREADY_DONE', message: /already resolved by notify:ticketing/ })
  t.equal((await fastify.inject({ method: 'POST', url: pathOf(resolve) })).json().code, 'ACTION_ALREADY_DONE')
  t.match((await fastify.inject({ url: ack, headers: HTML })).body, 'The alert was already resolved by notify:ticketing')

  // The other alert's links expire ACTION_TTL after they were sent.
  const otherBody = JSON.parse(hook.requests.find((r) => r.body.includes(other.id))?.body ?? '{}') as Json
  const otherAck = pathOf(otherBody.actions.acknowledge as string)
  clock.advance(3_600_000)
  const expired = await fastify.inject({ method: 'POST', url: otherAck })
  t.equal(expired.statusCode, 410)
  t.match(expired.json(), { code: 'ACTION_LINK_EXPIRED', message: /^this link expired at \d{4}-/ })
  const expiredPage = await fastify.inject({ url: otherAck, headers: HTML })
  t.equal(expiredPage.statusCode, 410, 'its page says so too')
  t.match(expiredPage.body, '<a href="https://alerts.example.com/">Open the dashboard</a>', 'and leads to the dashboard')
  t.equal((await stateOf(fastify, other.id)).alert.state, 'open', 'an expired link changed nothing')

  // A well-signed link to an alert the store no longer has.
  const gone = randomUUID()
  const claims = { alertId: gone, action: 'ack' as const, receiver: 'ticketing', expires: clock.now() + 60_000 }
  const missing = await fastify.inject({ method: 'POST', url: linkPath(claims, signLink(secret, claims)) })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'ALERT_NOT_FOUND')
  t.equal((await fastify.inject({ url: linkPath(claims, signLink(secret, claims)), headers: HTML })).statusCode, 404)
})

t.test('a resolve link acknowledges nothing; an acknowledged alert\'s message carries only Resolve; a resolved one none', async (t) => {
  const signer = createLinkSigner({ base: 'https://a.example', secret: 's'.repeat(32), ttlMs: 1000, now: () => 5000 })
  const open = signer.links({ id: 'x', state: 'open' }, 'r')
  t.ok(open.acknowledge !== undefined && open.resolve !== undefined)
  t.same(Object.keys(signer.links({ id: 'x', state: 'acknowledged' }, 'r')), ['resolve'])
  t.same(signer.links({ id: 'x', state: 'resolved' }, 'r'), {})
  const url = new URL(open.resolve ?? '')
  const input = { alertId: 'x', action: 'resolve', by: 'r', expires: url.searchParams.get('expires') ?? '', sig: url.searchParams.get('sig') ?? '' }
  t.match(verifyLink('s'.repeat(32), input, 5999), { alertId: 'x', action: 'resolve', receiver: 'r', expires: 6000 })
  t.equal(verifyLink('s'.repeat(32), input, 6000), 'expired', 'expired at its expiry')
  t.equal(verifyLink('t'.repeat(32), input, 5000), 'invalid', 'another server\'s secret')
  t.equal(verifyLink('s'.repeat(32), { ...input, action: 'ack' }, 5000), 'invalid')

  // Every receiver's words carry them: e-mail text and HTML, Slack, a Slack group, ntfy, the webhook.
  const alert = stamp({ type: 'alert', message: 'disk <full>', location: 'db1' })
  const notice = noticeOf('raised', alert, 'https://a.example', (a) => signer.links(a, 'mail'))
  t.match(plainText(notice), /\nAcknowledge: https:\/\/a\.example\/alerts\/.+\/actions\/ack\?by=mail&expires=6000&sig=[\w-]{43}\nResolve: /)
  t.match(emailHtml([notice]), /<a href="https:\/\/a\.example\/alerts\/[^"]+\/actions\/ack\?by=mail&amp;expires=6000&amp;sig=[\w-]{43}">Acknowledge<\/a> · <a href="[^"]+">Resolve<\/a>/)
  t.match(JSON.stringify(slackGroupBody([notice, notice])), /\|Timeline> {2}<[^|]+\/actions\/ack[^|]+\|Acknowledge> {2}<[^|]+\|Resolve>/)
  t.match(JSON.stringify(slackBody(notice)), /\|Acknowledge>/)
  t.match(ntfyHeaders(notice)['x-actions'], /^http, Acknowledge, .+, method=POST, clear=true; http, Resolve, .+, method=POST, clear=true$/)
  t.ok(webhookBody(notice, 'd').actions !== undefined)
  const without = noticeOf('raised', alert, 'https://a.example')
  t.equal(webhookBody(without, 'd').actions, undefined, 'no signer (no PUBLIC_URL): no links')
  t.equal(ntfyHeaders(without)['x-actions'], undefined)
  t.notMatch(plainText(without), 'Acknowledge')
  t.equal(noticeOf('resolved', { ...alert, state: 'resolved' }, '', (a) => signer.links(a, 'r')).actions, undefined, 'a resolved alert: none')
})

t.test('PUBLIC_URL and ACTION_SECRET are checked at start; without PUBLIC_URL messages carry no links', async (t) => {
  t.equal(publicUrlOf(''), undefined)
  t.equal(publicUrlOf('https://alerts.example.com/base//'), 'https://alerts.example.com/base')
  t.throws(() => publicUrlOf('alerts.example.com'), /PUBLIC_URL must be an http:\/\/ or https:\/\/ URL/)
  t.throws(() => publicUrlOf('ftp://alerts.example.com'), /without credentials, query or fragment/)
  t.throws(() => publicUrlOf('https://alerts.example.com/?x=1'), /without credentials, query or fragment/)
  await t.rejects(build(t, { PUBLIC_URL: 'nope' }), /PUBLIC_URL must be/)
  await t.rejects(build(t, { ACTION_SECRET: 'short' }), /ACTION_SECRET must be 16 characters at least/)
  const configured = await build(t, { ACTION_SECRET: 'a-configured-secret-0123' })
  t.equal(await configured.notifications.actionSecret(), 'a-configured-secret-0123', 'ACTION_SECRET, when set, is the key')

  const hook = await httpReceiver(t)
  const file = notifyFile(t, `
receivers:
  ticketing: { webhook: { url: "${hook.url}/hook" } }
routes:
  - to: ticketing
`)
  const fastify = await build(t, { NOTIFY_FILE: file })
  await postAlert(fastify, { message: 'disk full', location: 'db1' })
  await waitFor(() => hook.requests.length >= 1)
  t.notMatch(hook.requests[0]?.body ?? '', '"actions"', 'no PUBLIC_URL: no links')
})

t.test('the link\'s signature never reaches a log line, accepted or refused', async (t) => {
  const { fastify, text } = await buildLogged(t, { LOG_LEVEL: 'debug', PUBLIC_URL: 'https://alerts.example.com' })
  const alert = (await postAlert(fastify, { message: 'disk full', location: 'db1' })).json()
  const secret = await fastify.notifications.actionSecret()
  const claims = { alertId: alert.id as string, action: 'ack' as const, receiver: 'phone', expires: Date.now() + 60_000 }
  const sig = signLink(secret, claims)
  const path = linkPath(claims, sig)
  t.equal((await fastify.inject({ url: path, headers: HTML })).statusCode, 200)
  t.equal((await fastify.inject({ method: 'POST', url: path })).statusCode, 200)
  t.equal((await fastify.inject({ method: 'POST', url: path.replace('/actions/ack', '/actions/resolve') })).statusCode, 403)
  t.equal((await fastify.inject({ url: `/nowhere?sig=${sig}` })).statusCode, 404)
  t.match(text(), 'sig=[redacted]', 'the requests were logged')
  t.notMatch(text(), sig, 'never with the signature')
  t.notMatch(text(), secret, 'nor the secret')
  t.equal(redactUrlToken(`/a?by=x&sig=${sig}&z=1`), '/a?by=x&sig=[redacted]&z=1')
  t.equal(redactToken(`"url":"/a?%73ig=${sig}"`), '"url":"/a?%73ig=[redacted]"')
})

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'a setting is made once and kept: every caller gets the first one', async (t) => {
    const backend = await makeBackend(t, kind)
    let made = 0
    const make = (): string => `value-${++made}`
    const [a, b] = await Promise.all([backend.settings.keep('one', make), backend.settings.keep('one', make)])
    t.equal(a, b)
    t.equal(await backend.settings.keep('one', make), a)
    t.not(await backend.settings.keep('two', make), a, 'each name its own')
  })
}

t.test('sqlite: the generated secret survives a restart', async (t) => {
  const dir = t.testdir()
  const log = pino({ level: 'silent' })
  const first = createSqliteBackend({ dir, replayWindow: 10, log })
  const kept = await first.settings.keep('action_secret', () => 'first')
  await first.close()
  const second = createSqliteBackend({ dir, replayWindow: 10, log })
  t.teardown(async () => await second.close())
  t.equal(await second.settings.keep('action_secret', () => 'second'), kept)
  const app = await build(t, { STORE: 'sqlite', DATA_DIR: t.testdir() })
  const generated = await app.notifications.actionSecret()
  t.match(generated, /^[\w-]{43}$/, '32 random bytes')
  t.equal(await app.notifications.actionSecret(), generated)
})

redisTest('redis: instances of a cluster share one generated secret (SET NX)', async (t) => {
  const prefix = redisPrefix(t)
  const log = pino({ level: 'silent' })
  const [a, b] = [0, 1].map(() => createRedisBackend({ url: SHARED_REDIS_URL, prefix, historySize: 10, log }))
  t.teardown(async () => { await a?.close(); await b?.close() })
  if (a === undefined || b === undefined) throw new Error('two backends')
  await Promise.all([a.settled(), b.settled()])
  const [x, y] = await Promise.all([a.settings.keep('action_secret', () => 'from-a'), b.settings.keep('action_secret', () => 'from-b')])
  t.equal(x, y, 'one value for the cluster')
  t.ok(x === 'from-a' || x === 'from-b')
})

t.test('memory: a secret per process', async (t) => {
  const a = await build(t)
  const b = await build(t)
  t.not(await a.notifications.actionSecret(), await b.notifications.actionSecret())
})

t.test('hostile requests to the action links: clear coded errors, never a 5xx, nothing changed', async (t) => {
  const fastify = await build(t, { PUBLIC_URL: 'https://alerts.example.com' })
  const alert = (await postAlert(fastify, { message: 'disk full', location: 'db1' })).json()
  const secret = await fastify.notifications.actionSecret()
  const claims = { alertId: alert.id as string, action: 'ack' as const, receiver: 'phone', expires: Date.now() + 60_000 }
  const path = linkPath(claims, signLink(secret, claims))
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['an id of 200 characters', { url: path.replace(alert.id, 'a'.repeat(200)) }, 400, 'VALIDATION_FAILED'],
    ['a signature of 200 characters', { method: 'POST', url: path.replace(/sig=[^&]+/, `sig=${'A'.repeat(200)}`) }, 400, 'VALIDATION_FAILED'],
    ['a body over 1 KiB', { method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'x='.padEnd(5000, 'y') }, 413, 'BODY_TOO_LARGE'],
    ['an expiry past every date', { method: 'POST', url: path.replace(/expires=\d+/, 'expires=999999999999999') }, 403, 'ACTION_LINK_INVALID'],
    ['a percent-encoded id', { method: 'POST', url: path.replace(alert.id, encodeURIComponent(`${alert.id as string}/../x`)) }, 403, 'ACTION_LINK_INVALID']
  ]
  for (const [name, request, status, code] of cases) {
    const res = await fastify.inject(request)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().code, code, name)
  }
  const json = await fastify.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: '{"by":"someone else"}' })
  t.equal(json.statusCode, 200, 'a JSON body is read as nothing: the link says who')
  t.equal(json.json().alert.acknowledgedBy, 'notify:phone')
})

t.test('e-mail through a real SMTP server: the text and the HTML part carry the links, which work', async (t) => {
  const mails: string[] = []
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData (stream, _session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        mails.push(Buffer.concat(chunks).toString())
        callback()
      })
    }
  })
  smtp.listen(0, '127.0.0.1')
  await once(smtp.server, 'listening')
  t.teardown(async () => await new Promise((resolve) => smtp.close(() => resolve(undefined))))
  const { port } = smtp.server.address() as AddressInfo
  const file = notifyFile(t, 'receivers:\n  on-call: { email: { to: [oncall@example.com] } }\nroutes:\n  - to: on-call\n    on: [raised]\n')
  const fastify = await build(t, { NOTIFY_FILE: file, SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'alerts@example.com', PUBLIC_URL: 'https://alerts.example.com' })
  const alert = (await postAlert(fastify, { message: 'Replica lag', location: 'db2' })).json()
  await waitFor(() => mails.length >= 1)
  // Quoted-printable: soft line breaks joined, =XX decoded.
  const mail = (mails[0] ?? '').replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  const text = new RegExp(`^Acknowledge: (https://alerts\\.example\\.com/alerts/${alert.id as string}/actions/ack\\?by=on-call&expires=\\d+&sig=[\\w-]{43})\\r?$`, 'm').exec(mail)
  t.ok(text !== null, 'the text part has the Acknowledge link')
  t.match(mail, /^Resolve: https:\/\/alerts\.example\.com\/alerts\/.+\/actions\/resolve\?by=on-call&/m)
  const html = /<a href="(https:\/\/alerts\.example\.com\/alerts\/[^"]+\/actions\/resolve[^"]+)">Resolve<\/a>/.exec(mail)
  t.ok(html !== null, 'the HTML part has the Resolve link')
  const ack = await fastify.inject({ method: 'POST', url: pathOf(text?.[1] ?? '') })
  t.equal(ack.statusCode, 200)
  t.equal(ack.json().by, 'notify:on-call')
  const resolved = await fastify.inject({ method: 'POST', url: pathOf((html?.[1] ?? '').replaceAll('&amp;', '&')) })
  t.equal(resolved.statusCode, 200)
  t.equal(resolved.json().alert.state, 'resolved')
})
