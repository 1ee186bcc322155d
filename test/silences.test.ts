/**
 * Silences: an alert a silence takes is still raised and shown but notified
 * to nobody; when the silence ends (by its time or by DELETE) the alerts it
 * held that are still open and not acknowledged are notified once. Kept in
 * the store (a restart of SQLite keeps them); operate scope.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { build } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { postAlert } from './helpers/http'
import { httpReceiver, type TestReceiver } from './helpers/receivers'
import { waitFor } from './helpers/wait'
import { parseAlertFilter } from '../plugins/core/board'

type Json = Record<string, any>

async function setup (t: Test, env: Record<string, string | number> = {}, timers = mockTimers()): Promise<{ fastify: FastifyInstance, hook: TestReceiver, clock: ReturnType<typeof mockTimers>['clock'] }> {
  const hook = await httpReceiver(t)
  // A directory of its own: t.testdir() would empty the test's directory (a DATA_DIR) on each call.
  const own = mkdtempSync(join(tmpdir(), 'alert-notify-'))
  t.teardown(() => rmSync(own, { recursive: true, force: true }))
  const file = join(own, 'notify.yml')
  writeFileSync(file, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook] }]\n`)
  const fastify = await build(t, { NOTIFY_FILE: file, ...env }, { timers: timers.timers })
  return { fastify, hook, clock: timers.clock }
}

const told = (hook: TestReceiver): string[] => hook.requests.map((r) => JSON.parse(r.body) as Json).map((b) => `${b.alert.message as string} ${b.event as string}`)

t.test('a silenced alert is stored and shown but notified to nobody; at its end, if still open and not acknowledged, it is notified once', async (t) => {
  const { fastify, hook, clock } = await setup(t)
  const created = await fastify.inject({ method: 'POST', url: '/silences', payload: { match: { location: 'db1' }, duration: '1h', comment: 'maintenance', by: 'ana' } })
  t.equal(created.statusCode, 201)
  const silence = created.json()
  t.match(silence, { match: { location: 'db1' }, comment: 'maintenance', by: 'ana', active: true, startsAt: new Date(clock.now()).toISOString(), endsAt: new Date(clock.now() + 3_600_000).toISOString() })

  const held = (await postAlert(fastify, { message: 'held', location: 'db1' })).json()
  const acked = (await postAlert(fastify, { message: 'acked meanwhile', location: 'db1' })).json()
  await fastify.inject({ method: 'POST', url: `/alerts/${acked.id as string}/ack` })
  const resolved = (await postAlert(fastify, { message: 'resolved meanwhile', location: 'db1' })).json()
  await fastify.inject({ method: 'POST', url: `/alerts/${resolved.id as string}/resolve` })
  await postAlert(fastify, { message: 'elsewhere', location: 'db2' })
  await hook.inbox.next()
  await fastify.notifications.sender.idle()
  t.same(told(hook), ['elsewhere raised'], 'only the alert the silence does not take')
  const board = (await fastify.inject('/alerts')).json()
  t.same(board.alerts.map((a: Json) => a.message), ['elsewhere', 'resolved meanwhile', 'acked meanwhile', 'held'], 'still on the board')
  t.same(board.silenced, { [held.id as string]: silence.id, [acked.id as string]: silence.id, [resolved.id as string]: silence.id }, 'marked with the silence that holds them')
  t.match((await fastify.inject('/silences')).json(), { count: 1, silences: [{ id: silence.id, active: true }] })

  clock.advance(3_600_000)
  await hook.inbox.next()
  await fastify.notifications.sender.idle()
  t.same(told(hook), ['elsewhere raised', 'held raised'], 'the one still open and not acknowledged, once')
  t.match(JSON.parse(hook.requests[1]?.body ?? '{}'), { event: 'raised', alert: { id: held.id, state: 'open' } })
  t.same((await fastify.inject('/silences')).json(), { silences: [], count: 0 })
  t.notOk('silenced' in (await fastify.inject('/alerts')).json(), 'no mark once the silence is over')
  clock.advance(3_600_000)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 2)
  await postAlert(fastify, { message: 'after', location: 'db1' })
  await hook.inbox.next()
  t.same(told(hook).at(-1), 'after raised', 'the silence is over')
})

t.test('DELETE ends a silence now; a silence that starts later holds nothing before it starts', async (t) => {
  const { fastify, hook, clock } = await setup(t)
  const later = new Date(clock.now() + 600_000).toISOString()
  const pending = (await fastify.inject({ method: 'POST', url: '/silences', payload: { match: { tag: 'db' }, startsAt: later, duration: '30m', comment: 'window' } })).json()
  t.match(pending, { active: false, by: 'anonymous' })
  await postAlert(fastify, { message: 'before', location: 'x', tags: ['db'] })
  await hook.inbox.next()
  clock.advance(600_000)
  const silenced = (await postAlert(fastify, { message: 'during', location: 'x', tags: ['db'], severity: 'critical' })).json()
  await fastify.notifications.sender.idle()
  t.same(told(hook), ['before raised'])
  const ended = await fastify.inject({ method: 'DELETE', url: `/silences/${pending.id as string}` })
  t.equal(ended.statusCode, 200)
  t.match(ended.json(), { id: pending.id, active: false, endsAt: new Date(clock.now()).toISOString() })
  await hook.inbox.next()
  t.same(told(hook), ['before raised', 'during raised'])
  t.match(JSON.parse(hook.requests[1]?.body ?? '{}'), { alert: { id: silenced.id } })
  t.match((await fastify.inject({ method: 'DELETE', url: `/silences/${pending.id as string}` })).json(), { statusCode: 404, code: 'SILENCE_NOT_FOUND' })
})

t.test('bad silences are refused with a 400 naming what is wrong', async (t) => {
  const { fastify } = await setup(t)
  const post = async (payload: unknown): Promise<Json> => (await fastify.inject({ method: 'POST', url: '/silences', payload: payload as Json })).json()
  t.match(await post({ match: {}, duration: '1h', comment: 'c' }), { statusCode: 400, code: 'VALIDATION_FAILED' })
  t.match(await post({ match: { severity: 'high' }, duration: '1h', comment: 'c' }), { statusCode: 400, message: 'body/match/severity must be a comma list of info, warning, critical; got "high"' })
  t.match(await post({ match: { tag: 'x' }, comment: 'c' }), { statusCode: 400, message: 'body must have endsAt or duration (one of them)' })
  t.match(await post({ match: { tag: 'x' }, endsAt: '2020-01-01T00:00:00Z', comment: 'c' }), { statusCode: 400, message: /must end after startsAt|in the past/ })
  t.match(await post({ match: { tag: 'x' }, duration: '1 hour', comment: 'c' }), { statusCode: 400, code: 'VALIDATION_FAILED' })
  t.match(await post({ match: { tag: 'x' }, duration: '1h' }), { statusCode: 400, message: /comment/ })
  t.match(await post({ match: { colour: 'red' }, duration: '1h', comment: 'c' }), { statusCode: 400, code: 'VALIDATION_FAILED' }, 'an unknown word is refused, never dropped (the match would take everything)')
  t.match(await post({ match: { tag: 'x', colour: 'red' }, duration: '1h', comment: 'c' }), { statusCode: 400 })
  t.same((await fastify.inject('/silences')).json(), { silences: [], count: 0 }, 'nothing kept')
})

t.test('silences need the operate scope', async (t) => {
  const token = 'o'.repeat(32)
  const fastify = await build(t, { API_TOKEN: token })
  t.equal((await fastify.inject('/silences')).statusCode, 401)
  t.equal((await fastify.inject({ method: 'POST', url: '/silences', payload: { match: { tag: 'x' }, duration: '1h', comment: 'c' } })).statusCode, 401)
  t.equal((await fastify.inject({ url: '/silences', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
})

t.test('SQLite keeps silences across a restart', async (t) => {
  const dir = t.testdir()
  const timers = mockTimers()
  const first = await setup(t, { STORE: 'sqlite', DATA_DIR: dir }, timers)
  const silence = (await first.fastify.inject({ method: 'POST', url: '/silences', payload: { match: { location: 'db1' }, duration: '2h', comment: 'upgrade' } })).json()
  await first.fastify.close()
  const second = await setup(t, { STORE: 'sqlite', DATA_DIR: dir }, timers)
  t.match((await second.fastify.inject('/silences')).json(), { count: 1, silences: [{ id: silence.id, comment: 'upgrade' }] })
  await postAlert(second.fastify, { message: 'quiet', location: 'db1' })
  await postAlert(second.fastify, { message: 'loud', location: 'db2' })
  await second.hook.inbox.next()
  await second.fastify.notifications.sender.idle()
  t.same(told(second.hook), ['loud raised'])
  // Ended: the held alert's notification goes through the SQLite outbox.
  t.equal((await second.fastify.inject({ method: 'DELETE', url: `/silences/${silence.id as string}` })).statusCode, 200)
  await second.hook.inbox.next()
  t.same(told(second.hook), ['loud raised', 'quiet raised'])
  await second.fastify.notifications.sender.idle()
  t.match((await second.fastify.inject('/notifications')).json().deliveries[0], { event: 'raised', status: 'delivered' })
})

t.test('a silenced critical alert does not escalate; another does', async (t) => {
  const { fastify, clock, hook } = await setup(t, { ESCALATE_AFTER_MS: 60_000 })
  await fastify.inject({ method: 'POST', url: '/silences', payload: { match: { location: 'db1' }, duration: '1h', comment: 'maintenance' } })
  const held = (await postAlert(fastify, { message: 'held', location: 'db1', severity: 'critical' })).json()
  const loud = (await postAlert(fastify, { message: 'loud', location: 'db2', severity: 'critical' })).json()
  const kinds = async (id: string): Promise<string[]> => ((await fastify.inject(`/alerts/${id}/timeline`)).json().timeline as Json[]).map((e) => e.kind)
  // The escalation check runs every second of the clock: move it on until the
  // other alert escalated, letting each check finish (on SQLite its claim
  // commits at the end of an event-loop turn) before the next second.
  for (let i = 0; i < 500 && !(await kinds(loud.id as string)).includes('escalated'); i++) {
    clock.advance(1000)
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok((await kinds(loud.id as string)).includes('escalated'), 'the alert no silence holds escalated')
  t.notOk((await kinds(held.id as string)).includes('escalated'), 'the silenced one did not')

  // Ended: the held alert is notified once, and its escalation clock starts again
  // there, not at its raise (which would page twice in the same second).
  const silence = (await fastify.inject('/silences')).json().silences[0].id as string
  t.equal((await fastify.inject({ method: 'DELETE', url: `/silences/${silence}` })).statusCode, 200)
  await waitFor(() => told(hook).includes('held raised'))
  const tick = async (seconds: number): Promise<void> => {
    for (let i = 0; i < seconds; i++) {
      clock.advance(1000)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  await tick(59)
  t.notOk((await kinds(held.id as string)).includes('escalated'), 'not within ESCALATE_AFTER_MS of its release')
  for (let i = 0; i < 60 && !(await kinds(held.id as string)).includes('escalated'); i++) await tick(1)
  t.ok((await kinds(held.id as string)).includes('escalated'), 'escalated ESCALATE_AFTER_MS after it')
})

t.test('a match word may be a list of whole values: a silence of the key "disk,db1" takes it, and not "disk" or "db1"', async (t) => {
  t.same(parseAlertFilter({ key: 'disk,db1' }), { key: new Set(['disk', 'db1']) }, 'a string is a comma list')
  t.same(parseAlertFilter({ key: ['disk,db1'] }), { key: new Set(['disk,db1']) }, 'an item is one value')
  t.same(parseAlertFilter({ key: ['a', ' b, c '], tag: ['x'] }), { key: new Set(['a', 'b, c']), tag: new Set(['x']) })
  t.same(parseAlertFilter({ state: ['open,acknowledged'] }), { state: new Set(['open', 'acknowledged']) }, 'states and severities hold no comma: split as before')
  t.equal(parseAlertFilter({ key: ['  '] }), 'querystring/key must list at least one value')

  const dir = t.testdir()
  const timers = mockTimers()
  const first = await setup(t, { STORE: 'sqlite', DATA_DIR: dir }, timers)
  const post = async (payload: unknown) => await first.fastify.inject({ method: 'POST', url: '/silences', payload: payload as Json })
  for (const key of [[], [1], ['\ud800'], Array.from({ length: 101 }, (_, i) => `k${i}`)]) {
    t.match((await post({ match: { key }, duration: '1h', comment: 'c' })).json(), { statusCode: 400, code: 'VALIDATION_FAILED' }, `key ${JSON.stringify(key).slice(0, 20)} refused`)
  }
  const made = await post({ match: { key: ['disk,db1'] }, duration: '1h', comment: 'disk swap' })
  t.equal(made.statusCode, 201, made.body)
  t.same(made.json().match, { key: ['disk,db1'] }, 'kept as given')
  await first.fastify.close()
  // Kept across a restart as a list.
  const { fastify, hook } = await setup(t, { STORE: 'sqlite', DATA_DIR: dir }, timers)
  t.same((await fastify.inject('/silences')).json().silences[0].match, { key: ['disk,db1'] })
  const held = (await postAlert(fastify, { message: 'both', location: 'x', key: 'disk,db1' })).json()
  await postAlert(fastify, { message: 'disk only', location: 'x', key: 'disk' })
  await postAlert(fastify, { message: 'db1 only', location: 'x', key: 'db1' })
  await hook.inbox.next()
  await hook.inbox.next()
  await fastify.notifications.sender.idle()
  t.same(told(hook).sort(), ['db1 only raised', 'disk only raised'], 'the alert of the whole key is notified to nobody')
  t.same((await fastify.inject('/alerts')).json().silenced, { [held.id as string]: made.json().id }, 'and marked on the board')
})
