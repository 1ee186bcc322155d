/**
 * Notifications end to end: NOTIFY_FILE's routes, real HTTP receivers on
 * loopback (webhook, Slack, ntfy), a real SMTP server, retries, give-up,
 * timeouts, a restart with a pending outbox, reloads, and secrets that
 * never show.
 */
import t, { type Test } from 'tap'
import { createHmac } from 'node:crypto'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { FastifyInstance } from 'fastify'
import { build, buildLogged, freePort } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { postAlert } from './helpers/http'
import { httpReceiver, type Received } from './helpers/receivers'
import { Inbox, once, waitFor } from './helpers/wait'
import { noticeOf } from '../plugins/core/notify-messages'
import { slackBody } from '../plugins/core/notify-receivers'
import { stamp } from '../plugins/core/publisher'
import type { Event } from '../schemas/events'

type Json = Record<string, any>

/** Writes a NOTIFY_FILE into the test's directory. */
function notifyFile (t: Test, text: string, name = 'notify.yml'): string {
  // A directory of its own: t.testdir() would empty the test's directory (a DATA_DIR) on each call.
  const own = mkdtempSync(join(tmpdir(), 'alert-notify-'))
  t.teardown(() => rmSync(own, { recursive: true, force: true }))
  const file = join(own, name)
  writeFileSync(file, text)
  return file
}

async function timeline (fastify: FastifyInstance, id: string): Promise<Json[]> {
  return (await fastify.inject(`/alerts/${id}/timeline`)).json().timeline as Json[]
}

const attemptsOf = (entries: Json[]): Json[] => entries.filter((e) => e.kind === 'notified' || e.kind === 'notify_failed')

/** The attempts on an alert's timeline once `enough` holds of them (read again every few ms), or after a timeout. */
async function attemptsWhen (fastify: FastifyInstance, id: string, enough: (attempts: Json[]) => boolean): Promise<Json[]> {
  let attempts: Json[] = []
  await waitFor(async () => enough(attempts = attemptsOf(await timeline(fastify, id))))
  return attempts
}

t.test('webhook: signed JSON with the event, the alert and its URL; routes match by the filter words and the event kind', async (t) => {
  const hook = await httpReceiver(t)
  process.env.TEST_HOOK_SECRET = 'hook-secret-123456'
  t.teardown(() => { delete process.env.TEST_HOOK_SECRET })
  const file = notifyFile(t, `
receivers:
  ticketing: { webhook: { url: "${hook.url}/hook", secret: "\${TEST_HOOK_SECRET}" } }
routes:
  - match: { min_severity: warning }
    on: [raised, acknowledged, resolved]
    to: [ticketing]
`)
  const fastify = await build(t, { NOTIFY_FILE: file, DOMAIN: 'alerts.example.com' })
  await postAlert(fastify, { message: 'just so you know', location: 'lab', severity: 'info' })
  const alert = (await postAlert(fastify, { message: 'disk full', location: 'db1', severity: 'critical', tags: ['db'], key: 'disk' })).json()
  const raised = await hook.inbox.next()
  // Each attempt is recorded when its answer came: let it come before the next change.
  await fastify.notifications.sender.idle()
  t.equal(raised.method, 'POST')
  t.equal(raised.path, '/hook')
  t.equal(raised.headers['content-type'], 'application/json')
  const body = JSON.parse(raised.body) as Json
  t.match(body, { event: 'raised', text: '[CRITICAL] raised: disk full at db1', url: `http://alerts.example.com/alerts/${alert.id as string}/timeline` })
  t.same(body.alert, alert, 'the alert as the API shows it')
  t.equal(raised.headers['x-alert-delivery'], body.deliveryId)
  t.equal(raised.headers['x-alert-event'], 'raised')
  const expected = `sha256=${createHmac('sha256', 'hook-secret-123456').update(raised.body).digest('hex')}`
  t.equal(raised.headers['x-alert-signature'], expected, 'HMAC-SHA256 of the exact body with the secret')

  t.equal((await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/ack`, payload: { by: 'ana', note: 'on it' } })).statusCode, 200)
  const acked = JSON.parse((await hook.inbox.next()).body) as Json
  await fastify.notifications.sender.idle()
  t.match(acked, { event: 'acknowledged', by: 'ana', note: 'on it', text: '[CRITICAL] acknowledged by ana: disk full at db1', alert: { state: 'acknowledged', acknowledgedBy: 'ana' } })
  t.not(acked.deliveryId, body.deliveryId)
  // A repeat is not in this route's `on`: nothing goes; the resolve does.
  t.equal((await postAlert(fastify, { message: 'disk full', location: 'db1', severity: 'critical', tags: ['db'], key: 'disk' })).json().count, 2)
  await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/resolve`, payload: { by: 'bo' } })
  t.match(JSON.parse((await hook.inbox.next()).body), { event: 'resolved', by: 'bo' })
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 3, 'the info alert matched no route')

  const entries = attemptsOf(await timeline(fastify, alert.id as string))
  t.match(entries, [
    { kind: 'notified', receiver: 'ticketing', attempt: 1, result: 'delivered', status: 200, eventId: alert.id, deliveryId: body.deliveryId },
    { kind: 'notified', receiver: 'ticketing', state: 'acknowledged' },
    { kind: 'notified', receiver: 'ticketing', state: 'resolved' }
  ])
  const all = await timeline(fastify, alert.id as string)
  t.same(all.map((e) => e.kind), ['raised', 'notified', 'acknowledged', 'notified', 'repeated', 'resolved', 'notified'], 'each attempt after the change it told of')

  const list = (await fastify.inject('/notifications?receiver=ticketing&status=delivered')).json()
  t.equal(list.count, 3)
  t.match(list.deliveries[2], { id: body.deliveryId, receiver: 'ticketing', event: 'raised', alertId: alert.id, status: 'delivered', attempts: 1, lastStatus: 200 })
  t.same(list.receivers, [{ name: 'ticketing', kind: 'webhook' }])
  t.equal(list.pending, 0)
  t.equal((await fastify.inject('/notifications?status=failed')).json().count, 0)
  t.equal((await fastify.inject('/notifications?status=lost')).statusCode, 400)
  const metrics = (await fastify.inject('/metrics')).body
  t.match(metrics, /alert_server_notifications_total\{receiver="ticketing",result="delivered"\} 3/)
  t.match(metrics, /alert_server_notification_outbox_depth 0/)
  t.match(metrics, /alert_server_notification_oldest_pending_seconds 0/)
})

t.test('GET /notifications needs the admin scope', async (t) => {
  const fastify = await build(t, { TOKENS_FILE: '', API_TOKEN: 'a'.repeat(32) })
  t.equal((await fastify.inject('/notifications')).statusCode, 401)
  t.equal((await fastify.inject({ url: '/notifications', headers: { authorization: `Bearer ${'a'.repeat(32)}` } })).statusCode, 200)
})

t.test('slack and ntfy: their published formats', async (t) => {
  const slack = await httpReceiver(t)
  const ntfy = await httpReceiver(t)
  process.env.TEST_NTFY_TOKEN = 'tk_ntfytoken0123456789'
  t.teardown(() => { delete process.env.TEST_NTFY_TOKEN })
  const file = notifyFile(t, `
receivers:
  ops-chat: { slack: { url: "${slack.url}/services/T000/B000/XXXX" } }
  phone:    { ntfy: { url: "${ntfy.url}/ops-alerts", token: "\${TEST_NTFY_TOKEN}" } }
routes:
  - to: [ops-chat, phone]
`)
  const fastify = await build(t, { NOTIFY_FILE: file, DOMAIN: 'https://alerts.example.com' })
  const alert = (await postAlert(fastify, { message: 'Pump <3> & valve', location: 'Hall Ü', severity: 'critical', tags: ['water', 'plant'], link: 'https://grafana.example.com/d/1' })).json()

  // Slack's incoming webhooks take `text` (the notification's fallback) and
  // Block Kit `blocks`: a header block of plain_text (150 characters at
  // most), a section with mrkdwn `text` and up to 10 `fields`, a context
  // block of mrkdwn elements; &, < and > escaped in mrkdwn
  // (docs.slack.dev: Block Kit reference, "Formatting text for app surfaces").
  const s = JSON.parse((await slack.inbox.next()).body) as Json
  t.equal(s.text, '[CRITICAL] raised: Pump <3> & valve at Hall Ü')
  t.equal(s.blocks[0].type, 'header')
  t.same(s.blocks[0].text, { type: 'plain_text', text: 'CRITICAL: raised' })
  t.equal(s.blocks[1].type, 'section')
  t.same(s.blocks[1].text, { type: 'mrkdwn', text: '*Pump &lt;3&gt; &amp; valve*' })
  t.ok(s.blocks[1].fields.length <= 10)
  t.ok(s.blocks[1].fields.every((f: Json) => f.type === 'mrkdwn' && typeof f.text === 'string' && f.text.length <= 2000))
  t.same(s.blocks[1].fields.slice(0, 4).map((f: Json) => f.text), ['*Severity*\ncritical', '*Location*\nHall Ü', '*State*\nopen', '*Count*\n1'])
  t.equal(s.blocks[2].type, 'context')
  t.equal(s.blocks[2].elements[0].text, `<https://alerts.example.com/alerts/${alert.id as string}/timeline|Timeline>  ·  <https://alerts.example.com/|Dashboard>  ·  <https://grafana.example.com/d/1|Link>`)

  // ntfy publishes to the topic URL: the body is the message; X-Title,
  // X-Priority (1-5: 5 max/urgent, 4 high, 3 default), X-Tags (comma list;
  // emoji short codes show as emojis), X-Click, and Authorization: Bearer
  // <token> (docs.ntfy.sh/publish: "Message title", "Message priority",
  // "Tags & emojis", "Click action", "Access tokens"). The X- forms, because
  // ntfy ignores a bare Priority header that looks like RFC 9218's, and
  // non-ASCII header values as RFC 2047 encoded words, which ntfy decodes
  // (binwiederhier/ntfy server/util.go, maybeDecodeHeader).
  const n = await ntfy.inbox.next()
  t.equal(n.path, '/ops-alerts')
  t.equal(n.headers.authorization, 'Bearer tk_ntfytoken0123456789')
  t.equal(n.headers['x-priority'], '5')
  const title = n.headers['x-title'] as string
  const encoded = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(title)
  t.ok(encoded, 'a non-ASCII title is an RFC 2047 encoded word')
  t.equal(Buffer.from(encoded?.[1] ?? '', 'base64').toString(), '[CRITICAL] raised: Pump <3> & valve at Hall Ü')
  t.equal(n.headers['x-tags'], 'rotating_light,raised,water,plant')
  t.equal(n.headers['x-click'], 'https://grafana.example.com/d/1', 'the alert\'s own link first')
  t.match(n.body, /^\[CRITICAL\] raised: Pump <3> & valve at Hall Ü\n/)
  t.match(n.body, /Location: Hall Ü\n/)
  t.match(n.body, new RegExp(`Timeline: https://alerts.example.com/alerts/${alert.id as string}/timeline`))

  await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/resolve`, payload: { by: 'ana' } })
  const resolved = await ntfy.inbox.next()
  t.equal(resolved.headers['x-priority'], '2', 'a resolve is low priority')
  t.match(resolved.headers['x-tags'], /^white_check_mark,resolved/)
  t.match(JSON.parse((await slack.inbox.next()).body), { text: '[CRITICAL] resolved by ana: Pump <3> & valve at Hall Ü' })
})

t.test('retries: a receiver that fails, then recovers, gets the same delivery id; every attempt is on the timeline', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t, (n) => n === 1 ? 500 : n === 2 ? 503 : 200)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  const fastify = await build(t, { NOTIFY_FILE: file }, { timers })
  const alert = (await postAlert(fastify, { message: 'flaky', location: 'x' })).json()
  const first = await hook.inbox.next()
  await fastify.notifications.sender.idle()
  t.match((await fastify.inject('/notifications')).json().deliveries[0], { status: 'pending', attempts: 1, lastStatus: 500, lastError: 'answered HTTP 500' })
  // The first retry comes within 2 s (1 to 2 with jitter), the second within 4.
  clock.advance(2000)
  const second = await hook.inbox.next()
  await fastify.notifications.sender.idle()
  clock.advance(4000)
  const third = await hook.inbox.next()
  await fastify.notifications.sender.idle()
  const ids = [first, second, third].map((r: Received) => r.headers['x-alert-delivery'])
  t.equal(new Set(ids).size, 1, 'one delivery id across the retries')
  t.same([first, second, third].map((r) => JSON.parse(r.body).deliveryId), ids)
  t.match(attemptsOf(await timeline(fastify, alert.id as string)), [
    { kind: 'notify_failed', attempt: 1, result: 'retrying', status: 500, error: 'answered HTTP 500' },
    { kind: 'notify_failed', attempt: 2, result: 'retrying', status: 503 },
    { kind: 'notified', attempt: 3, result: 'delivered', status: 200 }
  ])
  clock.advance(600_000)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 3, 'nothing more once delivered')
  const metrics = (await fastify.inject('/metrics')).body
  t.match(metrics, /alert_server_notifications_total\{receiver="hook",result="retrying"\} 2/)
  t.match(metrics, /alert_server_notifications_total\{receiver="hook",result="delivered"\} 1/)
})

t.test('give-up: a receiver that keeps failing is given up NOTIFY_GIVE_UP after the event, and recorded', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t, () => 500)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  const fastify = await build(t, { NOTIFY_FILE: file, NOTIFY_GIVE_UP: '1m' }, { timers })
  const alert = (await postAlert(fastify, { message: 'down', location: 'x' })).json()
  await hook.inbox.next()
  await fastify.notifications.sender.idle()
  t.match((await fastify.inject('/metrics')).body, /alert_server_notification_outbox_depth 1/)
  clock.advance(500)
  t.match((await fastify.inject('/metrics')).body, /alert_server_notification_oldest_pending_seconds 0.5\n/)
  // Each retry is due before the give-up time, the last one at it.
  for (let i = 0; i < 30 && (await fastify.inject('/notifications?status=failed')).json().count === 0; i++) {
    clock.advance(10_000)
    await fastify.notifications.sender.idle()
  }
  const given = (await fastify.inject('/notifications')).json().deliveries[0]
  t.match(given, { status: 'failed', lastStatus: 500 })
  t.notOk('nextAttemptAt' in given)
  const attempts = attemptsOf(await timeline(fastify, alert.id as string))
  t.match(attempts.at(-1), { kind: 'notify_failed', result: 'failed', attempt: attempts.length })
  t.ok(Date.parse(attempts.at(-1)?.at as string) >= Date.parse(alert.timestamp as string) + 60_000, 'given up at the give-up time, not before')
  t.ok(attempts.slice(0, -1).every((a) => a.result === 'retrying'))
  const count = hook.requests.length
  clock.advance(3_600_000)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, count, 'nothing more after giving up')
  t.match((await fastify.inject('/metrics')).body, /alert_server_notifications_total\{receiver="hook",result="failed"\} 1/)
})

t.test('timeout: a receiver that never answers fails after NOTIFY_TIMEOUT_MS (4 s here, so that a busy machine still delivers the other first) and delays neither another receiver nor the API', async (t) => {
  const slow = await httpReceiver(t, () => 'hang')
  const fast = await httpReceiver(t)
  const file = notifyFile(t, `
receivers:
  slow: { webhook: { url: "${slow.url}" } }
  fast: { webhook: { url: "${fast.url}" } }
routes: [{ to: [slow, fast] }]
`)
  const fastify = await build(t, { NOTIFY_FILE: file, NOTIFY_TIMEOUT_MS: 4000 })
  const first = (await postAlert(fastify, { message: 'one', location: 'x' })).json()
  await slow.inbox.next()
  await fast.inbox.next()
  // The slow receiver holds its request; the API and the fast receiver go on.
  const second = await postAlert(fastify, { message: 'two', location: 'x' })
  t.equal(second.statusCode, 200)
  t.match(JSON.parse((await fast.inbox.next()).body), { alert: { message: 'two' } })
  t.equal(attemptsOf(await timeline(fastify, first.id as string)).filter((a) => a.receiver === 'slow').length, 0, 'the slow attempt is still running')
  const slowAttempts = await attemptsWhen(fastify, first.id as string, (all) => all.some((a) => a.receiver === 'slow'))
  const slowOne = slowAttempts.filter((a) => a.receiver === 'slow')
  t.match(slowOne, [{ kind: 'notify_failed', result: 'retrying', error: 'no answer within the timeout' }])
  t.notOk('status' in (slowOne[0] as Json))
})

t.test('restart: a notification pending in the SQLite outbox is delivered after the restart, once', async (t) => {
  const dir = t.testdir()
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t, () => 503)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  const first = await build(t, { STORE: 'sqlite', DATA_DIR: dir, NOTIFY_FILE: file }, { timers })
  const alert = (await postAlert(first, { message: 'kept', location: 'x' })).json()
  const failed = await hook.inbox.next()
  await first.notifications.sender.idle()
  await first.close()

  hook.answer(() => 200)
  const second = await build(t, { STORE: 'sqlite', DATA_DIR: dir, NOTIFY_FILE: file }, { timers })
  t.match((await second.inject('/notifications')).json(), { pending: 1, deliveries: [{ status: 'pending', attempts: 1 }] })
  clock.advance(5000)
  const delivered = await hook.inbox.next()
  await second.notifications.sender.idle()
  t.equal(delivered.headers['x-alert-delivery'], failed.headers['x-alert-delivery'], 'the same delivery, the same id')
  clock.advance(3_600_000)
  await second.notifications.sender.idle()
  t.equal(hook.requests.length, 2, 'delivered once: no attempt after the success')
  t.match(attemptsOf(await timeline(second, alert.id as string)), [{ result: 'retrying', status: 503 }, { result: 'delivered', status: 200 }])
})

t.test('a server stopped before its sender ran leaves the notification to the next start', async (t) => {
  const dir = t.testdir()
  const hook = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  // Without NOTIFY_FILE nothing is routed; with it, a first app that is closed
  // as soon as the event is stored (its sender had no chance) keeps the entry.
  const first = await build(t, { STORE: 'sqlite', DATA_DIR: dir, NOTIFY_FILE: file })
  await first.notifications.sender.stop()
  const alert = (await postAlert(first, { message: 'queued', location: 'x' })).json()
  t.equal((await first.inject('/notifications')).json().pending, 1)
  await first.close()
  t.equal(hook.requests.length, 0)
  const second = await build(t, { STORE: 'sqlite', DATA_DIR: dir, NOTIFY_FILE: file })
  t.match(JSON.parse((await hook.inbox.next()).body), { alert: { id: alert.id } })
  await second.notifications.sender.idle()
  t.equal(hook.requests.length, 1)
})

t.test('start-up refuses a bad NOTIFY_FILE with one line naming the file and line', async (t) => {
  const file = notifyFile(t, 'receivers:\n  hook: { webhook: { url: "http://x" } }\nroutes:\n  - to: [hook, pager]\n')
  await t.rejects(build(t, { NOTIFY_FILE: file }), { message: `NOTIFY_FILE ${file}:4: routes[0].to names "pager", which is not one of the receivers` })
  await t.rejects(build(t, { NOTIFY_FILE: join(t.testdir(), 'missing.yml') }), { message: /^NOTIFY_FILE .*missing\.yml: cannot be read \(ENOENT\)$/ })
})

t.test('reload: a changed file is read again, a bad one keeps the previous configuration, SIGHUP reloads', async (t) => {
  const one = await httpReceiver(t)
  const two = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { one: { webhook: { url: "${one.url}" } } }\nroutes: [{ to: [one] }]\n`)
  const { fastify, lines } = await buildLogged(t, { NOTIFY_FILE: file })
  await postAlert(fastify, { message: 'a', location: 'x' })
  await one.inbox.next()

  writeFileSync(file, `receivers: { two: { webhook: { url: "${two.url}" } } }\nroutes: [{ to: [two] }]\n`)
  await waitFor(() => fastify.notifications.config().receivers.has('two'))
  await postAlert(fastify, { message: 'b', location: 'x' })
  t.match(JSON.parse((await two.inbox.next()).body), { alert: { message: 'b' } })
  t.match(lines.filter((l) => l.msg === 'NOTIFY_FILE loaded'), [{ receivers: 1, routes: 1 }, { receivers: 1, routes: 1 }], 'at start-up and at the reload')

  writeFileSync(file, 'receivers: { two: { webhook: { url: "not a url" } } }\n')
  await waitFor(() => lines.some((l) => l.msg === 'NOTIFY_FILE not reloaded: the previous configuration stays in force'))
  t.match(lines.find((l) => String(l.msg).startsWith('NOTIFY_FILE not reloaded')), { level: 50, problem: `${file}:1: receiver two url must be an http:// or https:// URL` })
  t.ok(fastify.notifications.config().receivers.has('two'), 'the previous configuration stays')
  await postAlert(fastify, { message: 'c', location: 'x' })
  t.match(JSON.parse((await two.inbox.next()).body), { alert: { message: 'c' } })

  // SIGHUP reads the file again even when no change was seen (a watch can miss one).
  writeFileSync(file, `receivers: { one: { webhook: { url: "${one.url}" } } }\nroutes: [{ to: [one] }]\n`)
  process.emit('SIGHUP', 'SIGHUP')
  await waitFor(() => fastify.notifications.config().receivers.has('one'))
  t.equal(await fastify.notifications.reload(), true)
})

t.test('reload: an empty file (one being written in place) is refused, a bad one is reported once however often it is read, routes: [] notifies nobody', async (t) => {
  const one = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { one: { webhook: { url: "${one.url}" } } }\nroutes: [{ to: [one] }]\n`)
  const { fastify, lines } = await buildLogged(t, { NOTIFY_FILE: file })
  t.match(lines.find((l) => l.msg === 'NOTIFY_FILE loaded'), { file, receivers: 1, routes: 1 }, 'start-up says what it read')
  const refusals = () => lines.filter((l) => l.msg === 'NOTIFY_FILE not reloaded: the previous configuration stays in force')

  writeFileSync(file, '')
  await waitFor(() => refusals().length === 1)
  t.match(refusals()[0], { problem: `${file}: is empty (being written?); to notify nobody, write routes: []` })
  t.ok(fastify.notifications.config().receivers.has('one'), 'the previous configuration stays')

  writeFileSync(file, 'routes: [{ to: [pager] }]\n')
  await waitFor(() => refusals().length === 2)
  t.equal(await fastify.notifications.reload(), false)
  t.equal(await fastify.notifications.reload(), false)
  t.equal(refusals().length, 2, 'the same problem is not reported again')
  process.emit('SIGHUP', 'SIGHUP')
  await waitFor(() => refusals().length === 3)
  t.match(refusals()[2], { problem: `${file}:1: routes[0].to names "pager", which is not one of the receivers` }, 'SIGHUP reports it again')

  writeFileSync(file, 'routes: []\n')
  await waitFor(() => fastify.notifications.config().receivers.size === 0)
  t.match(lines.filter((l) => l.msg === 'NOTIFY_FILE loaded').at(-1), { receivers: 0, routes: 0 })
  t.equal(lines.filter((l) => l.msg === 'NOTIFY_FILE: no route sends to these receivers').length, 0, 'no receiver, none unused')
})

t.test('a receiver no route sends to is named in a warning, at start-up and at a reload', async (t) => {
  const one = await httpReceiver(t)
  const file = notifyFile(t, `receivers:\n  one: { webhook: { url: "${one.url}" } }\n  pager: { webhook: { url: "${one.url}" } }\n  chat: { slack: { url: "${one.url}" } }\nroutes: [{ to: [one] }]\n`)
  const { fastify, lines } = await buildLogged(t, { NOTIFY_FILE: file })
  const unused = () => lines.filter((l) => l.msg === 'NOTIFY_FILE: no route sends to these receivers')
  t.match(unused(), [{ level: 40, file, receivers: ['pager', 'chat'] }])
  writeFileSync(file, `receivers:\n  one: { webhook: { url: "${one.url}" } }\n  chat: { slack: { url: "${one.url}" } }\nroutes: [{ to: [one, chat] }]\n`)
  t.equal(await fastify.notifications.reload(), true)
  t.equal(unused().length, 1, 'every receiver used: no new warning')
  writeFileSync(file, `receivers:\n  one: { webhook: { url: "${one.url}" } }\nroutes: []\n`)
  t.equal(await fastify.notifications.reload(), true)
  t.match(unused().at(-1), { receivers: ['one'] })
})

t.test('reload: a Kubernetes-style update (the ..data link beside a symlinked NOTIFY_FILE swapped) is seen without a signal', async (t) => {
  const one = await httpReceiver(t)
  const two = await httpReceiver(t)
  const dir = mkdtempSync(join(tmpdir(), 'notify-mounted-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const version = (name: string, url: string): void => {
    mkdirSync(join(dir, name))
    writeFileSync(join(dir, name, 'notify.yml'), `receivers: { hook: { webhook: { url: "${url}" } } }\nroutes: [{ to: [hook] }]\n`)
  }
  version('..2026_12_07_10_00_00.1', one.url)
  symlinkSync('..2026_12_07_10_00_00.1', join(dir, '..data'))
  symlinkSync(join('..data', 'notify.yml'), join(dir, 'notify.yml'))
  const fastify = await build(t, { NOTIFY_FILE: join(dir, 'notify.yml') })
  await postAlert(fastify, { message: 'a', location: 'x' })
  await one.inbox.next()
  // What the kubelet does: a new link beside the old one, renamed over it in one step.
  version('..2026_12_07_10_05_00.2', two.url)
  symlinkSync('..2026_12_07_10_05_00.2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  await waitFor(() => fastify.notifications.config().receivers.get('hook')?.kind === 'webhook' && (fastify.notifications.config().receivers.get('hook') as { url: string }).url === two.url)
  await postAlert(fastify, { message: 'b', location: 'x' })
  t.match(JSON.parse((await two.inbox.next()).body), { alert: { message: 'b' } })
})

t.test('reload: a NOTIFY_FILE that is a symlink to a file in another directory is read again when that file changes, and follows the link when it is pointed elsewhere', async (t) => {
  const one = await httpReceiver(t)
  const two = await httpReceiver(t)
  const three = await httpReceiver(t)
  const linkDir = mkdtempSync(join(tmpdir(), 'notify-link-'))
  const targetDir = mkdtempSync(join(tmpdir(), 'notify-target-'))
  const otherDir = mkdtempSync(join(tmpdir(), 'notify-other-'))
  t.teardown(() => { for (const dir of [linkDir, targetDir, otherDir]) rmSync(dir, { recursive: true, force: true }) })
  const text = (url: string): string => `receivers: { hook: { webhook: { url: "${url}" } } }\nroutes: [{ to: [hook] }]\n`
  const urlNow = (): string | undefined => (fastify.notifications.config().receivers.get('hook') as { url?: string } | undefined)?.url
  writeFileSync(join(targetDir, 'notify.yml'), text(one.url))
  symlinkSync(join(targetDir, 'notify.yml'), join(linkDir, 'notify.yml'))
  const fastify = await build(t, { NOTIFY_FILE: join(linkDir, 'notify.yml') })
  t.equal(urlNow(), one.url)
  // Written where it lives, in place; nothing changes in the link's directory.
  writeFileSync(join(targetDir, 'notify.yml'), text(two.url))
  await waitFor(() => urlNow() === two.url)
  // The link pointed at another file, in another directory: a change there is seen too.
  writeFileSync(join(otherDir, 'alerts.yml'), text(one.url))
  symlinkSync(join(otherDir, 'alerts.yml'), join(linkDir, 'next.yml'))
  renameSync(join(linkDir, 'next.yml'), join(linkDir, 'notify.yml'))
  await waitFor(() => urlNow() === one.url)
  writeFileSync(join(otherDir, 'alerts.yml'), text(three.url))
  await waitFor(() => urlNow() === three.url)
  await postAlert(fastify, { message: 'c', location: 'x' })
  t.match(JSON.parse((await three.inbox.next()).body), { alert: { message: 'c' } })
})

t.test('secrets never show: not in logs, answers, the timeline or metrics', async (t) => {
  const hook = await httpReceiver(t, () => 500)
  const secrets = {
    TEST_S_PATH: 'pathsecret-7f3a9c',
    TEST_S_HMAC: 'hmacsecret-91b2e4',
    TEST_S_TOKEN: 'tk_tokensecret-55aa',
    TEST_S_DOWN: 'downsecret-c0ffee'
  }
  Object.assign(process.env, secrets)
  t.teardown(() => { for (const name of Object.keys(secrets)) Reflect.deleteProperty(process.env, name) })
  const file = notifyFile(t, `
receivers:
  hook:  { webhook: { url: "${hook.url}/\${TEST_S_PATH}", secret: "\${TEST_S_HMAC}" } }
  phone: { ntfy: { url: "${hook.url}/topic-\${TEST_S_PATH}", token: "\${TEST_S_TOKEN}" } }
  down:  { webhook: { url: "http://127.0.0.1:${await freePort()}/\${TEST_S_DOWN}" } }
routes: [{ to: [hook, phone, down] }]
`)
  const { fastify, text } = await buildLogged(t, { NOTIFY_FILE: file, SMTP_URL: 'smtp://mailuser:smtp-pass-4242@127.0.0.1:1', LOG_LEVEL: 'debug' })
  const alert = (await postAlert(fastify, { message: 'leak?', location: 'x' })).json()
  const attempts = await attemptsWhen(fastify, alert.id as string, (all) => all.length >= 3)
  t.equal(attempts.length, 3)
  t.match(attempts.find((a) => a.receiver === 'down'), { error: 'cannot reach the receiver (ECONNREFUSED)', result: 'retrying' })
  const shown = [
    text(),
    (await fastify.inject('/notifications')).body,
    (await fastify.inject(`/alerts/${alert.id as string}/timeline`)).body,
    (await fastify.inject('/metrics')).body
  ].join('\n')
  t.match(text(), /notification failed; it is tried again/)
  for (const secret of [...Object.values(secrets), 'smtp-pass-4242']) {
    t.notOk(shown.includes(secret), `${secret.slice(0, 6)}… does not show`)
  }
})

t.test('email: a real SMTP server gets the mail, with credentials, a text and an HTML part, the subject saying what and where', async (t) => {
  const mails: Array<{ from: string, to: string[], raw: string, user: string }> = []
  const inbox = new Inbox<number>('mail')
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth (auth, _session, callback) {
      if (auth.username === 'mailer' && auth.password === 'p4ss-word') callback(null, { user: auth.username })
      else callback(new Error('invalid credentials'))
    },
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString(),
          user: String(session.user)
        })
        inbox.push(mails.length)
        callback()
      })
    }
  })
  smtp.listen(0, '127.0.0.1')
  await once(smtp.server, 'listening')
  t.teardown(async () => await new Promise((resolve) => smtp.close(() => resolve(undefined))))
  const { port } = smtp.server.address() as AddressInfo
  const file = notifyFile(t, 'receivers:\n  on-call: { email: { to: [oncall@example.com, lead@example.com] } }\nroutes:\n  - match: { tag: database }\n    to: [on-call]\n')
  const fastify = await build(t, { NOTIFY_FILE: file, SMTP_URL: `smtp://mailer:p4ss-word@127.0.0.1:${port}`, SMTP_FROM: 'Alerts <alerts@example.com>', DOMAIN: 'alerts.example.com' })
  await postAlert(fastify, { message: 'not mine', location: 'x' })
  const alert = (await postAlert(fastify, { message: 'Replica lag', location: 'db2', severity: 'warning', tags: ['database'] })).json()
  await inbox.next()
  const mail = mails[0] as typeof mails[number]
  t.equal(mail.user, 'mailer', 'authenticated with SMTP_URL\'s credentials')
  t.equal(mail.from, 'alerts@example.com')
  t.same(mail.to, ['oncall@example.com', 'lead@example.com'])
  const raw = mail.raw.replace(/=\r\n/g, '')
  t.match(raw, /^Subject: \[WARNING\] raised: Replica lag at db2\r$/m)
  t.match(raw, /^From: Alerts <alerts@example\.com>\r$/m)
  t.match(raw, /^Content-Type: multipart\/alternative;/m)
  t.match(raw, /^Content-Type: text\/plain; charset=utf-8\r$/m)
  t.match(raw, /^Content-Type: text\/html; charset=utf-8\r$/m)
  t.match(raw, /Location: db2/)
  t.match(raw, /<th align=3D"left">Severity<\/th><td>warning<\/td>/)
  t.match(raw, new RegExp(`Timeline: http://alerts.example.com/alerts/${alert.id as string}/timeline`))
  t.match(raw, /^X-Alert-Delivery: [0-9a-f-]{36}\r$/m)
  await fastify.notifications.sender.idle()
  t.match(attemptsOf(await timeline(fastify, alert.id as string)), [{ kind: 'notified', receiver: 'on-call', result: 'delivered', status: 250 }])
  t.equal(mails.length, 1, 'the alert without the tag sent nothing')

  // Wrong credentials: the attempt fails with the server's code, and the password shows nowhere.
  const { fastify: refused, text } = await buildLogged(t, { NOTIFY_FILE: file, SMTP_URL: `smtp://mailer:wrong-pass-77@127.0.0.1:${port}`, SMTP_FROM: 'alerts@example.com' })
  const other = (await postAlert(refused, { message: 'Replica lag', location: 'db3', tags: ['database'] })).json()
  const [failed] = await attemptsWhen(refused, other.id as string, (all) => all.length > 0)
  t.match(failed, { kind: 'notify_failed', result: 'retrying', status: 535, error: 'the mail server answered 535 (EAUTH)' })
  t.notOk(`${text()}${(await refused.inject('/notifications')).body}`.includes('wrong-pass-77'))
  t.equal(mails.length, 1)
})

t.test('a receiver hears of an alert\'s changes in the order they happened', async (t) => {
  const hook = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  const fastify = await build(t, { NOTIFY_FILE: file })
  await fastify.notifications.sender.stop()
  for (let i = 0; i < 5; i++) {
    const alert = (await postAlert(fastify, { message: `m${i}`, location: 'x' })).json()
    await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/ack` })
    await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/resolve` })
  }
  fastify.notifications.sender.start()
  for (let i = 0; i < 15; i++) await hook.inbox.next()
  const told = hook.requests.map((r) => JSON.parse(r.body) as Json).map((b) => `${b.alert.message as string} ${b.event as string}`)
  t.same(told, [0, 1, 2, 3, 4].flatMap((i) => [`m${i} raised`, `m${i} acknowledged`, `m${i} resolved`]))
})

t.test('repeat: a route tells again while the alert is open and not acknowledged, every `repeat`', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t)
  const other = await httpReceiver(t)
  const file = notifyFile(t, `
receivers:
  hook:  { webhook: { url: "${hook.url}" } }
  other: { webhook: { url: "${other.url}" } }
routes:
  - match: { min_severity: critical }
    on: [raised]
    to: [hook]
    repeat: 1h
  - to: [other]
    on: [raised]
`)
  const fastify = await build(t, { NOTIFY_FILE: file }, { timers })
  const alert = (await postAlert(fastify, { message: 'still down', location: 'x', severity: 'critical' })).json()
  await postAlert(fastify, { message: 'minor', location: 'x', severity: 'warning' })
  await hook.inbox.next()
  await fastify.notifications.sender.idle()
  clock.advance(3_590_000)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 1, 'not before the hour')
  clock.advance(20_000)
  const reminder = JSON.parse((await hook.inbox.next()).body) as Json
  t.match(reminder, { event: 'reminder', text: `[CRITICAL] still open, not acknowledged (raised ${alert.timestamp as string}): still down at x`, alert: { id: alert.id } })
  t.not(reminder.deliveryId, JSON.parse(hook.requests[0]?.body ?? '{}').deliveryId)
  await fastify.notifications.sender.idle()
  clock.advance(3_600_000)
  t.match(JSON.parse((await hook.inbox.next()).body), { event: 'reminder' })
  await fastify.notifications.sender.idle()
  t.equal(other.requests.length, 2, 'a route without repeat tells once')

  await fastify.inject({ method: 'POST', url: `/alerts/${alert.id as string}/ack` })
  clock.advance(7_200_000)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 3, 'no reminder once acknowledged')
  t.match((await fastify.inject('/notifications?receiver=hook')).json().deliveries.map((d: Json) => d.event), ['reminder', 'reminder', 'raised'])
})

t.test('shutdown waits for a reminder check in flight: nothing reads or writes the closed store', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t)
  const file = notifyFile(t, `
receivers:
  hook: { webhook: { url: "${hook.url}" } }
routes:
  - match: { min_severity: critical }
    on: [raised]
    to: [hook]
    repeat: 1h
`)
  const { fastify, lines } = await buildLogged(t, { NOTIFY_FILE: file, STORE: 'sqlite', DATA_DIR: t.testdir() }, undefined, { timers })
  // Many alerts due at once: the check claims each reminder in its own turn, so it lasts a while.
  for (let i = 0; i < 200; i++) await postAlert(fastify, { message: `still down ${i}`, location: 'x', severity: 'critical', key: `k${i}` })
  await waitFor(() => hook.requests.length === 200)
  await fastify.notifications.sender.idle()
  // The reminders are due: their check starts, and the server is told to stop in the same turn.
  clock.advance(3_600_000)
  await fastify.close()
  t.same(lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg), [], 'no warning: the check ended before the store closed')
})

t.test('group: the alerts a route matched within `group` go to each receiver as one message', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t)
  const slack = await httpReceiver(t)
  const solo = await httpReceiver(t)
  process.env.TEST_GROUP_SECRET = 'group-secret-42'
  t.teardown(() => { delete process.env.TEST_GROUP_SECRET })
  const file = notifyFile(t, `
receivers:
  hook:  { webhook: { url: "${hook.url}", secret: "\${TEST_GROUP_SECRET}" } }
  chat:  { slack: { url: "${slack.url}" } }
  solo:  { webhook: { url: "${solo.url}" } }
routes:
  - match: { tag: database }
    to: [hook, chat]
    group: 30s
  - to: [solo]
`)
  const fastify = await build(t, { NOTIFY_FILE: file, DOMAIN: 'alerts.example.com' }, { timers })
  // Each raise is told to `solo` at once; the clock moves only once that is done
  // (it is also the clock of the attempts' timeouts).
  const raise = async (payload: Json): Promise<Json> => {
    const alert = (await postAlert(fastify, payload)).json()
    await solo.inbox.next()
    await fastify.notifications.sender.idle()
    return alert
  }
  const first = await raise({ message: 'replica lag', location: 'db2', tags: ['database'] })
  clock.advance(10_000)
  const second = await raise({ message: 'primary down', location: 'db1', tags: ['database'], severity: 'critical' })
  clock.advance(10_000)
  const third = await raise({ message: 'disk slow', location: 'db3', tags: ['database'] })
  t.equal(hook.requests.length + slack.requests.length, 0, 'held until the first one\'s window ends')
  t.equal(solo.requests.length, 3, 'a route without group is not held')

  clock.advance(10_000)
  const grouped = await hook.inbox.next()
  const body = JSON.parse(grouped.body) as Json
  t.match(body, { event: 'group', count: 3, text: '3 notifications: [CRITICAL] raised: primary down at db1 and more' })
  t.same(body.notifications.map((n: Json) => n.alert.id), [first.id, second.id, third.id])
  t.equal(grouped.headers['x-alert-delivery'], body.notifications[0].deliveryId, 'a group goes under its first notification\'s delivery id')
  t.equal(grouped.headers['x-alert-event'], 'group')
  t.equal(grouped.headers['x-alert-signature'], `sha256=${createHmac('sha256', 'group-secret-42').update(grouped.body).digest('hex')}`)
  const s = JSON.parse((await slack.inbox.next()).body) as Json
  t.equal(s.text, '3 notifications: [CRITICAL] raised: primary down at db1 and more')
  t.same(s.blocks[0], { type: 'header', text: { type: 'plain_text', text: '3 notifications' } })
  t.same(s.blocks.slice(1).map((b: Json) => b.text.text), [
    `*[WARNING] raised: replica lag at db2*  <http://alerts.example.com/alerts/${first.id as string}/timeline|Timeline>`,
    `*[CRITICAL] raised: primary down at db1*  <http://alerts.example.com/alerts/${second.id as string}/timeline|Timeline>`,
    `*[WARNING] raised: disk slow at db3*  <http://alerts.example.com/alerts/${third.id as string}/timeline|Timeline>`
  ])
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 1)
  t.match(attemptsOf(await timeline(fastify, third.id as string)).filter((a) => a.receiver === 'hook'), [{ kind: 'notified', attempt: 1, status: 200 }], 'each notification of the group is recorded')
  t.equal((await fastify.inject('/notifications?receiver=hook&status=delivered')).json().count, 3)
})

t.test('Slack: past the 10 fields a section holds, the rest (the note) go in a second section', async (t) => {
  const raised = stamp({ type: 'alert', message: 'disk full', location: 'db1', key: 'disk:db1', tags: ['db'], link: 'https://grafana.example.com/d/1' })
  const alert = { ...raised, state: 'resolved', acknowledgedBy: 'ana', resolvedBy: 'bo', count: 2 }
  const update = { id: '0b0e8a8e-0000-4000-8000-000000000001', timestamp: raised.timestamp, type: 'alert_update', change: 'resolved', by: 'bo', note: 'freed 20 GB', alert } as unknown as Event
  const body = slackBody(noticeOf('resolved', update, 'https://a.example')) as { blocks: Json[] }
  const sections = body.blocks.filter((b) => b.type === 'section')
  t.equal(sections.length, 2)
  t.equal(sections[0]?.fields.length, 10, 'the first holds 10')
  t.same(sections[1], { type: 'section', fields: [{ type: 'mrkdwn', text: '*Note*\nfreed 20 GB' }] }, 'the note is not dropped')
  t.same(body.blocks.map((b) => b.type), ['header', 'section', 'section', 'context'])
  // With 10 or fewer, one section, as before.
  const plain = slackBody(noticeOf('raised', raised, 'https://a.example')) as { blocks: Json[] }
  t.same(plain.blocks.map((b) => b.type), ['header', 'section', 'context'])
})

t.test('a receiver URL with a user and password is sent with Basic authorization (fetch refuses such a URL); an ntfy token wins', async (t) => {
  const hook = await httpReceiver(t)
  const phone = await httpReceiver(t)
  const at = (url: string): string => url.replace('http://', 'http://bot:p%40ss@')
  const file = notifyFile(t, `
receivers:
  hook:  { webhook: { url: "${at(hook.url)}/in" } }
  phone: { ntfy: { url: "${at(phone.url)}/ops", token: "tk_phone" } }
routes:
  - to: [hook, phone]
`)
  const { fastify, lines } = await buildLogged(t, { NOTIFY_FILE: file })
  await postAlert(fastify, { message: 'disk full', location: 'db1' })
  const got = await hook.inbox.next()
  t.equal(got.path, '/in')
  t.equal(got.headers.authorization, `Basic ${Buffer.from('bot:p@ss').toString('base64')}`)
  t.equal((await phone.inbox.next()).headers.authorization, 'Bearer tk_phone')
  await fastify.notifications.sender.idle()
  t.match((await fastify.inject('/notifications')).json().deliveries, [{ status: 'delivered' }, { status: 'delivered' }])
  t.notOk(JSON.stringify(lines).includes('p@ss'), 'the password is in no log line')
})
