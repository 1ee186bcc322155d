/**
 * The SQLite store in the app: what a restart keeps, what start-up refuses,
 * a full disk, group commit and retention. The behaviours it shares with the
 * other stores are in backend-contract.test.ts.
 */
import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { build } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { postAlert, postChat } from './helpers/http'
import { createSqliteBackend, DATABASE_FILE, QUERIES, type SqliteBackend } from '../plugins/core/sqlite-backend'
import { migrate, SCHEMA_VERSION } from '../plugins/core/sqlite-schema'
import { StorageUnavailableError } from '../plugins/core/errors'
import { createPublisher, stamp } from '../plugins/core/publisher'
import type { Event } from '../schemas/events'

type Json = Record<string, any>
const log = pino({ level: 'silent' })

/** SQLite's query plan of one of the backend's statements, its lines joined. */
const planOf = (backend: SqliteBackend, query: string, ...params: unknown[]): string =>
  (backend.db.prepare(`EXPLAIN QUERY PLAN ${query}`).all(...params) as Array<{ detail: string }>).map((row) => row.detail).join('\n')

/** An app on SQLite in `dir`; closed when the test ends (or earlier, by the test: closing twice is harmless). */
async function app (t: Parameters<typeof build>[0], dir: string, env: Record<string, string | number> = {}, extra: Parameters<typeof build>[2] = {}): Promise<FastifyInstance> {
  return await build(t, { STORE: 'sqlite', DATA_DIR: dir, ...env }, extra)
}

t.test('a restart keeps the board, acks and notes, chat, replay points, idempotency keys and heartbeat monitors', async (t) => {
  const dir = t.testdir()
  const first = await app(t, dir)
  t.equal(first.backend.kind, 'sqlite')
  t.equal(first.backend.description, join(dir, DATABASE_FILE))
  const raised = (await postAlert(first, { message: 'disk full', location: 'db1', key: 'disk', severity: 'critical', tags: ['db'] })).json()
  const replayPoint = (await postChat(first, { sender: 'ana', message: 'on it' })).json()
  const acked = await first.inject({ method: 'POST', url: `/alerts/${raised.id as string}/ack`, payload: { by: 'ana', note: 'cleaning up' } })
  t.equal(acked.statusCode, 200)
  const again = (await postAlert(first, { message: 'disk still full', location: 'db1', key: 'disk', severity: 'critical' })).json()
  const keyed = await postAlert(first, { message: 'once', location: 'x' }, { 'idempotency-key': 'restart-key' })
  t.equal((await first.inject({ method: 'POST', url: '/heartbeats/nightly?every=1h' })).statusCode, 200)
  const board = (await first.inject('/alerts')).json()
  const afterPoint = (await first.inject(`/alerts?since=${replayPoint.id as string}`)).json()
  await first.close()

  const second = await app(t, dir)
  t.same((await second.inject('/alerts')).json(), board, 'the board as it was')
  const disk = (await second.inject('/alerts?key=disk')).json().alerts[0]
  t.match(disk, { id: raised.id, state: 'acknowledged', acknowledgedBy: 'ana', count: 2, notes: [{ by: 'ana', action: 'acknowledged', text: 'cleaning up' }] })
  t.equal(again.id, raised.id)
  t.same((await second.inject(`/alerts?since=${replayPoint.id as string}`)).json(), afterPoint, 'a since id from before the restart reaches what came after, no gap')
  t.same((await second.inject('/message')).json().chatMessages, [replayPoint])
  const retried = await postAlert(second, { message: 'once', location: 'x' }, { 'idempotency-key': 'restart-key' })
  t.same([retried.headers['idempotent-replayed'], retried.json().id], ['true', keyed.json().id], 'the idempotency key is remembered')
  t.match((await second.inject('/heartbeats')).json(), { heartbeats: [{ name: 'nightly', every: '1h', state: 'up' }] })
  const repeat = (await postAlert(second, { message: 'disk full again', location: 'db1', key: 'disk', severity: 'critical' })).json()
  t.match(repeat, { id: raised.id, count: 3, state: 'acknowledged' }, 'a repeat after the restart is the same incident, still acknowledged')
})

t.test('a replay over a WebSocket-like since, across a restart, sends each later event once', async (t) => {
  const dir = t.testdir()
  const first = await app(t, dir)
  const before = (await postAlert(first, { message: 'a0', location: 'x' })).json()
  const later = [(await postAlert(first, { message: 'a1', location: 'x' })).json(), (await postChat(first, { sender: 's', message: 'c1' })).json()]
  await first.close()
  const second = await app(t, dir)
  const replay = await second.backend.store.since(before.id)
  t.same(replay, { found: true, events: later })
})

t.test('a heartbeat deadline that passed while the server was down raises its alert at start-up', async (t) => {
  const dir = t.testdir()
  const { clock, timers } = mockTimers()
  const first = await app(t, dir, { HEARTBEAT_CHECK_MS: 1000 }, { timers })
  await first.inject({ method: 'POST', url: '/heartbeats/backup?every=1m&grace=10s' })
  await first.close()
  // Down for ten minutes.
  clock.advance(10 * 60_000)
  const second = await app(t, dir, { HEARTBEAT_CHECK_MS: 1000 }, { timers })
  clock.advance(1000)
  await second.heartbeats.check()
  const board = (await second.inject('/alerts?key=heartbeat:backup')).json()
  t.match(board.alerts, [{ key: 'heartbeat:backup', source: 'heartbeat', state: 'open' }])
})

t.test('a second server on the same DATA_DIR is refused, naming the file', async (t) => {
  const dir = t.testdir()
  await app(t, dir)
  await t.rejects(app(t, dir), { message: `${join(dir, DATABASE_FILE)} is in use by another server process: stop it, or give this one another DATA_DIR` })
})

t.test('a file that is not SQLite, a DATA_DIR that is a file, a newer schema: one line each', async (t) => {
  const junk = t.testdir({ [DATABASE_FILE]: 'this is not a database, it is a text file of some length '.repeat(100) })
  await t.rejects(app(t, junk), { message: new RegExp(`^${join(junk, DATABASE_FILE)} is not an SQLite database or is damaged .*: move it away to start empty, or restore a backup`) })
  const parent = t.testdir({ file: 'x' })
  await t.rejects(app(t, join(parent, 'file')), { message: /^cannot open .*file.* make DATA_DIR a directory this user can write to$/ })
  const newer = t.testdir()
  const db = new Database(join(newer, DATABASE_FILE))
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  await t.rejects(app(t, newer), { message: `${join(newer, DATABASE_FILE)} was written by a newer version of this server (schema ${SCHEMA_VERSION + 1}; this version knows up to ${SCHEMA_VERSION}): run that version, or restore a backup made by this one` })
})

t.test('a file of the first schema is migrated at start, its alerts kept', async (t) => {
  const dir = t.testdir()
  const db = new Database(join(dir, DATABASE_FILE))
  migrate(db, 0, 1)
  const resolvedAt = '2026-01-02T03:04:05.000Z'
  const alert = { ...stamp({ type: 'alert', message: 'old', location: 'x' }), state: 'resolved', resolvedAt, resolvedBy: 'ana' }
  db.prepare('INSERT INTO events (id, stream, alert_id, at, json) VALUES (?, ?, ?, ?, ?)').run(alert.id, 'alert', alert.id, Date.parse(alert.timestamp), JSON.stringify(alert))
  db.prepare('INSERT INTO alerts (id, seq, rev, key, state, severity, json) VALUES (?, 1, ?, NULL, ?, ?, ?)').run(alert.id, alert.id, 'resolved', alert.severity, JSON.stringify(alert))
  db.close()
  const backend = createSqliteBackend({ dir, replayWindow: 10, log })
  t.teardown(async () => await backend.close())
  t.equal(backend.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same((await backend.store.alerts()).map((s) => s.alert.id), [alert.id])
  t.equal((backend.db.prepare('SELECT resolved_at AS r FROM alerts').get() as { r: number } | undefined)?.r, Date.parse(resolvedAt), 'resolved_at filled from the alert')
})

t.test('a file of schema 4 (event ids indexed) is migrated: replay from an old id, timelines and the seq high-water mark hold', async (t) => {
  const dir = t.testdir()
  const db = new Database(join(dir, DATABASE_FILE))
  migrate(db, 0, 4)
  const insertEvent = db.prepare('INSERT INTO events (id, stream, alert_id, at, json) VALUES (?, ?, ?, ?, ?)')
  const raised = stamp({ type: 'alert', message: 'raised', location: 'x' })
  const chat = stamp({ type: 'chat', sender: 's', message: 'hello' })
  const acked = { ...raised, state: 'acknowledged', acknowledgedBy: 'ana' }
  const update = { id: '0b0e8a8e-0000-4000-8000-000000000001', timestamp: raised.timestamp, type: 'alert_update', change: 'acknowledged', alert: acked }
  const gone = stamp({ type: 'alert', message: 'evicted long ago', location: 'x' })
  insertEvent.run(gone.id, 'alert', gone.id, Date.parse(gone.timestamp), JSON.stringify(gone))
  insertEvent.run(raised.id, 'alert', raised.id, Date.parse(raised.timestamp), JSON.stringify(raised))
  insertEvent.run(chat.id, 'chat', null, Date.parse(chat.timestamp), JSON.stringify(chat))
  insertEvent.run(update.id, 'alert', raised.id, Date.parse(update.timestamp), JSON.stringify(update))
  db.prepare('INSERT INTO alerts (id, seq, rev, key, state, severity, json) VALUES (?, 2, ?, NULL, ?, ?, ?)').run(raised.id, update.id, 'acknowledged', raised.severity, JSON.stringify(acked))
  // A fifth event was written and swept: its seq must never be given again.
  insertEvent.run('0b0e8a8e-0000-4000-8000-000000000005', 'chat', null, 0, '{}')
  db.prepare('DELETE FROM events WHERE seq = 5').run()
  db.close()
  const backend = createSqliteBackend({ dir, replayWindow: 10, log })
  t.teardown(async () => await backend.close())
  t.equal(backend.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same((await backend.store.timeline(raised.id)).map((e) => e.id), [raised.id, update.id], 'the raising event and its update')
  t.same(await backend.store.timeline(gone.id), [], 'an alert no longer kept has no timeline')
  const replay = await backend.store.since(raised.id)
  t.same({ found: replay.found, ids: replay.events.map((e) => e.id) }, { found: true, ids: [chat.id, update.id] }, 'replay from an id written before the migration')
  const next = stamp({ type: 'chat', sender: 's', message: 'after' })
  await backend.store.append(next)
  t.same(backend.db.prepare('SELECT seq FROM events WHERE id = ?').get(next.id), { seq: 6 }, 'the next seq follows the highest ever given')
  t.same(backend.db.prepare('SELECT seq FROM evicted').all(), [{ seq: 1 }], 'the events of an alert no longer kept wait for the sweep')
  t.same(backend.db.prepare('SELECT alert_seq FROM events ORDER BY seq').all().map((row) => (row as { alert_seq: number | null }).alert_seq), [null, null, null, 2, null], 'an update names its alert\'s seq')
})

t.test('a file of schema 7 (alerts by a text id index) is migrated: alerts found by id, kept in seq order, updated and swept by seq', async (t) => {
  const dir = t.testdir()
  const db = new Database(join(dir, DATABASE_FILE))
  migrate(db, 0, 7)
  const insertEvent = db.prepare('INSERT INTO events (id, stream, alert_id, alert_seq, at, json) VALUES (?, ?, ?, NULL, ?, ?)')
  const insertAlert = db.prepare('INSERT INTO alerts (id, seq, rev, key, state, severity, resolved_at, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  // Two ids that share their first 12 hex digits, the number the new index keeps: told apart by the id.
  const open = { ...stamp({ type: 'alert', message: 'still open', location: 'x' }), id: '5ca1ab1e-0000-4000-8000-000000000001', key: 'disk' }
  const resolved = { ...stamp({ type: 'alert', message: 'long resolved', location: 'x' }), id: '5ca1ab1e-0000-4000-8000-000000000002', state: 'resolved', resolvedAt: '2026-01-02T03:04:05.000Z' }
  insertEvent.run(resolved.id, 'alert', resolved.id, Date.parse(resolved.timestamp), JSON.stringify(resolved))
  insertAlert.run(resolved.id, 1, resolved.id, null, 'resolved', resolved.severity, Date.parse(resolved.resolvedAt), JSON.stringify(resolved))
  insertEvent.run(open.id, 'alert', open.id, Date.parse(open.timestamp), JSON.stringify(open))
  insertAlert.run(open.id, 2, open.id, 'disk', 'open', open.severity, null, JSON.stringify(open))
  db.close()
  const now = Date.parse('2026-03-01T00:00:00.000Z')
  const backend = createSqliteBackend({ dir, replayWindow: 10, log, now: () => now })
  t.teardown(async () => await backend.close())
  t.equal(backend.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same((await backend.store.alerts()).map((s) => s.alert.id), [resolved.id, open.id], 'the board in seq order')
  t.equal((await backend.store.alert(open.id))?.alert.message, 'still open')
  t.equal((await backend.store.alert(resolved.id))?.alert.message, 'long resolved')
  t.equal((await backend.store.openByKey('disk'))?.alert.id, open.id)
  const acked = { ...open, state: 'acknowledged', acknowledgedBy: 'ana' }
  const update = { id: '0b0e8a8e-0000-4000-8000-000000000003', timestamp: open.timestamp, type: 'alert_update', change: 'acknowledged', alert: acked } as unknown as Event
  t.same(await backend.store.append(update, { kind: 'rev', alertId: open.id, rev: open.id }), { stored: true }, 'the revision check finds the alert by id')
  t.equal((await backend.store.alert(open.id))?.alert.state, 'acknowledged')
  t.equal((await backend.store.alert(resolved.id))?.alert.state, 'resolved', 'the other alert of the same number is untouched')
  t.same((await backend.store.timeline(open.id)).map((e) => e.id), [open.id, update.id])
  t.equal(await backend.sweep(now - 1000), 1, 'the resolved one is swept with its event')
  t.equal(await backend.store.alert(resolved.id), undefined)
  t.equal((await backend.store.alert(open.id))?.alert.state, 'acknowledged', 'and only it')
  const plan = planOf(backend, QUERIES.alertById, 1, 'x')
  t.match(plan, /USING INDEX alerts_id/, 'found through the index of numbers')
  t.same(backend.db.prepare('SELECT name FROM sqlite_schema WHERE tbl_name = \'alerts\' AND type = \'index\' ORDER BY name').all(), [
    { name: 'alerts_id' }, { name: 'alerts_key' }, { name: 'alerts_open' }, { name: 'alerts_resolved' }
  ], 'no index of the text id, nor of seq beside the table\'s own order')
})

t.test('a file of schema 8 is migrated to one key index of every keyed alert: the open alert and the last resolved one by key, each one index step; the unresolved alerts newest first through the severity index', async (t) => {
  const dir = t.testdir()
  const db = new Database(join(dir, DATABASE_FILE))
  migrate(db, 0, 8)
  const insertAlert = db.prepare('INSERT INTO alerts (id_hash, id, seq, rev, key, state, severity, resolved_at, json) VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?)')
  const insertEvent = db.prepare('INSERT INTO events (seq, id, stream, alert_id, alert_seq, at, json) VALUES (?, ?, \'alert\', ?, NULL, ?, ?)')
  const rows = [
    { key: 'disk', state: 'resolved', message: 'first disk' },
    { key: 'disk', state: 'resolved', message: 'second disk' },
    { key: 'db', state: 'acknowledged', message: 'db' },
    { key: undefined, state: 'open', message: 'no key' }
  ]
  rows.forEach(({ key, state, message }, i) => {
    const alert = { ...stamp({ type: 'alert', message, location: 'x' }), key, state }
    insertEvent.run(i + 1, alert.id, alert.id, Date.parse(alert.timestamp), JSON.stringify(alert))
    insertAlert.run(alert.id, i + 1, alert.id, key ?? null, state, alert.severity, state === 'resolved' ? Date.parse(alert.timestamp) : null, JSON.stringify(alert))
  })
  db.close()
  const backend = createSqliteBackend({ dir, replayWindow: 10, log })
  t.teardown(async () => await backend.close())
  t.equal(backend.db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(await backend.store.openByKey('disk'), undefined, 'every alert with the key is resolved: none open')
  t.equal((await backend.store.lastByKey?.('disk'))?.alert.message, 'second disk', 'the newest of them')
  t.equal((await backend.store.openByKey('db'))?.alert.message, 'db', 'an acknowledged alert is open')
  t.equal(await backend.store.lastByKey?.('nothing'), undefined)
  const plan = planOf(backend, QUERIES.lastByKey, 'disk')
  t.match(plan, /USING INDEX alerts_key/)
  t.notMatch(plan, /TEMP B-TREE/, 'read in the index\'s order, no sort')
  const open = planOf(backend, QUERIES.newestOpenOf, 'info', 10, 5)
  t.match(open, /USING INDEX alerts_open \(severity=\? AND seq<\?\)/, 'a severity\'s unresolved alerts newest first: a range of its index')
  t.notMatch(open, /TEMP B-TREE/, 'in the index\'s order, no sort')
  t.same((await backend.store.newest(10, undefined, { unresolved: true })).map((s) => s.alert.message), ['no key', 'db'], 'the unresolved alerts, newest first')
  // Resolving by the key again is no change, found without reading the board page by page.
  const newest = backend.store.newest
  backend.store.newest = async () => { throw new Error('the board was paged through') }
  const publisher = createPublisher(backend.store)
  t.match(await publisher.act({ key: 'disk' }, 'resolve', 'ana'), { changed: false, alert: { message: 'second disk', state: 'resolved' } })
  await t.rejects(publisher.act({ key: 'nothing' }, 'resolve', 'ana'), { name: 'AlertNotFoundError' })
  backend.store.newest = newest
  // A new alert with the key is the open one again, and the newest.
  const raised = await publisher.publish({ type: 'alert', message: 'third disk', location: 'x', key: 'disk' })
  t.equal((await backend.store.openByKey('disk'))?.alert.id, raised.id)
  t.match(await publisher.act({ key: 'disk' }, 'resolve', 'ana'), { changed: true, alert: { id: raised.id, state: 'resolved' } })
  t.equal(await backend.store.openByKey('disk'), undefined)
})

t.test('a file of schema 4 is migrated: its heartbeat monitors get their deadline and enter the due index', async (t) => {
  const dir = t.testdir()
  const db = new Database(join(dir, DATABASE_FILE))
  migrate(db, 0, 4)
  db.prepare('INSERT INTO heartbeats (name, every_ms, grace_ms, severity, location, last_ping, missed) VALUES (?, ?, ?, ?, ?, ?, ?)').run('due', 60_000, 1000, 'critical', 'l', 5000, null)
  db.prepare('INSERT INTO heartbeats (name, every_ms, grace_ms, severity, location, last_ping, missed) VALUES (?, ?, ?, ?, ?, ?, ?)').run('missed', 60_000, 0, 'info', 'l', 1000, 1000)
  db.close()
  const backend = createSqliteBackend({ dir, replayWindow: 10, log })
  t.teardown(async () => await backend.close())
  t.same(await backend.heartbeats.get('due'), { name: 'due', everyMs: 60_000, graceMs: 1000, severity: 'critical', location: 'l', lastPing: 5000, deadline: 66_000 })
  t.same((await backend.heartbeats.due(1e12)).map((m) => m.name), ['due'], 'the missed one is not due again')
  t.same(await backend.heartbeats.pings('due'), [])
  const plan = planOf(backend, QUERIES.dueMonitors, 1)
  t.match(plan, /USING INDEX heartbeats_due/, 'the check reads the deadline index, not the table')
})

t.test('writes of one turn share one transaction; the feed and the callers hear of them only once committed', async (t) => {
  const backend = createSqliteBackend({ dir: t.testdir(), replayWindow: 100, log })
  t.teardown(async () => await backend.close())
  const heard: string[] = []
  backend.feed.subscribe((event) => heard.push(event.id))
  const events = Array.from({ length: 50 }, (_, i) => stamp({ type: 'alert', message: `a${i}`, location: 'x' }))
  const appends = events.map(async (e) => await backend.store.append(e))
  t.equal(backend.db.inTransaction, true, 'one transaction open for the turn')
  t.same(heard, [], 'nothing fanned out before the commit')
  await Promise.all(appends)
  t.equal(backend.db.inTransaction, false, 'committed')
  t.same(heard, events.map((e) => e.id), 'then every event, in order')
})

t.test('the fan-out writes a turn\'s events in the turn that commits them, not a turn later behind the next commit', async (t) => {
  const server = await app(t, t.testdir())
  // Counts the event loop's turns: one increment at the start of each check phase.
  let turn = 0
  let ticking = true
  const tick = (): void => {
    turn++
    if (ticking) setImmediate(tick)
  }
  setImmediate(tick)
  t.teardown(() => { ticking = false })
  const flushed: number[] = []
  server.fanout.onFlush(() => flushed.push(turn))
  const committed: number[] = []
  for (let i = 0; i < 3; i++) {
    await server.backend.store.append(stamp({ type: 'alert', message: `a${i}`, location: 'x' }))
    committed.push(turn)
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(flushed.length, 3, 'one flush per turn of events')
  t.same(flushed, committed, 'each in the turn of its commit')
})

t.test('a full disk: a coded 503, nothing stored or sent, readiness fails, and it recovers once there is room', async (t) => {
  const dir = t.testdir()
  const { clock, timers } = mockTimers()
  const fastify = await app(t, dir, {}, { timers })
  const sqlite = fastify.backend as SqliteBackend
  const heard: Event[] = []
  sqlite.feed.subscribe((event) => heard.push(event))
  // SQLite's own limit on the file's pages: past it every write fails with SQLITE_FULL, as on a full disk.
  const pages = sqlite.db.pragma('page_count', { simple: true }) as number
  sqlite.db.pragma(`max_page_count = ${pages}`)
  const big = 'x'.repeat(900)
  let refused: Json | undefined
  for (let i = 0; i < 200 && refused === undefined; i++) {
    const res = await postAlert(fastify, { message: `${big}${i}`, location: 'x' })
    if (res.statusCode !== 200) refused = { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] }
  }
  t.match(refused, { status: 503, body: { code: 'STORAGE_UNAVAILABLE' }, retryAfter: '5' })
  const stored = (await fastify.inject('/alerts?limit=1000')).json().alerts as Json[]
  t.same(heard.map((e) => e.id).sort(), stored.map((a) => a.id).sort(), 'what was sent is exactly what was stored')
  t.equal((await fastify.inject('/ready')).statusCode, 503, 'not ready')
  t.match((await fastify.inject('/ready')).json(), { status: 'not ready', reason: /^storage unavailable: .*SQLITE_FULL/ })
  sqlite.db.pragma('max_page_count = 1073741823')
  clock.advance(5000)
  await sqlite.probe()
  t.equal((await fastify.inject('/ready')).statusCode, 200, 'ready again once a write succeeds')
  t.equal((await postAlert(fastify, { message: 'after', location: 'x' })).statusCode, 200)
})

t.test('retention: resolved alerts, their events and chat older than RETENTION go; open alerts stay; a replay from before is a gap', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const backend = createSqliteBackend({ dir: t.testdir(), replayWindow: 1000, now: () => now, log })
  t.teardown(async () => await backend.close())
  const publisher = createPublisher(backend.store, { now: () => now })
  const old = await publisher.publish({ type: 'alert', message: 'old', location: 'x' })
  const stillOpen = await publisher.publish({ type: 'alert', message: 'open', location: 'x' })
  const chat = await publisher.publish({ type: 'chat', sender: 's', message: 'old chat' })
  await publisher.act({ id: old.id }, 'resolve', 'ana')
  now += 31 * 86_400_000
  const fresh = await publisher.publish({ type: 'alert', message: 'fresh', location: 'x' })
  await publisher.act({ id: fresh.id }, 'resolve', 'bo')
  const deleted = await backend.sweep(now - 30 * 86_400_000)
  t.equal(deleted, 3, 'the old alert\'s two events and the chat')
  t.same((await backend.store.alerts()).map((s) => s.alert.message), ['open', 'fresh'])
  t.same(await backend.store.timeline(old.id), [])
  t.equal((await backend.store.timeline(stillOpen.id)).length, 1, 'an open alert keeps its events however old')
  t.equal((await backend.store.since(chat.id)).found, false, 'a replay from a deleted event is a gap')
  t.equal((await backend.store.since(stillOpen.id)).found, false, 'and from before one')
  t.equal(await backend.sweep(now - 30 * 86_400_000), 0, 'nothing left to sweep')
})

t.test('retention: the events of an alert dropped for room go RETENTION after it was dropped', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const backend = createSqliteBackend({ dir: t.testdir(), replayWindow: 1000, openAlertsMax: 1, now: () => now, log })
  t.teardown(async () => await backend.close())
  const publisher = createPublisher(backend.store, { now: () => now })
  const dropped = await publisher.publish({ type: 'alert', message: 'dropped', location: 'x', severity: 'info', key: 'k' })
  await publisher.publish({ type: 'alert', message: 'dropped', location: 'x', severity: 'info', key: 'k' })
  now += 10 * 86_400_000
  const kept = await publisher.publish({ type: 'alert', message: 'kept', location: 'x' })
  t.same((await backend.store.alerts()).map((s) => s.alert.id), [kept.id], 'the older one was dropped for room')
  t.equal(await backend.sweep(now - 30 * 86_400_000), 0, 'nothing within RETENTION of its drop')
  now += 31 * 86_400_000
  t.equal(await backend.sweep(now - 30 * 86_400_000), 2, 'then its raising event and its repeat')
  t.same(backend.db.prepare('SELECT count(*) AS n FROM evicted').get(), { n: 0 })
  t.equal((await backend.store.since(dropped.id)).found, false, 'a replay from before them is a gap')
  t.equal((await backend.store.since(kept.id)).found, true, 'and from after them is not')
})

t.test('a write that fails alone (a fault, not the disk) is undone alone, and the turn commits the rest', async (t) => {
  const backend = createSqliteBackend({ dir: t.testdir(), replayWindow: 100, log })
  t.teardown(async () => await backend.close())
  const good = stamp({ type: 'chat', sender: 's', message: 'good' })
  // An alert without a state: its event row is written, then its alert row breaks a NOT NULL constraint.
  const broken = { ...stamp({ type: 'alert', message: 'm', location: 'l' }), state: undefined } as unknown as Event
  const results = await Promise.allSettled([
    backend.store.append(good),
    backend.store.append(broken)
  ])
  t.equal(results[0].status, 'fulfilled')
  t.equal(results[1].status, 'rejected')
  t.notOk(results[1].status === 'rejected' && results[1].reason instanceof StorageUnavailableError, 'a fault, not the storage')
  t.same((await backend.store.since()).events, [good], 'the broken alert\'s event row went with it')
  t.same(backend.db.prepare('SELECT count(*) AS n FROM events').get(), { n: 1 })
})

t.test('writes to a closed store fail as storage unavailable', async (t) => {
  const backend = createSqliteBackend({ dir: t.testdir(), replayWindow: 100, log })
  await backend.close()
  await backend.close()
  await t.rejects(backend.store.append(stamp({ type: 'chat', sender: 's', message: 'm' })), StorageUnavailableError)
})

t.test('STORE and REDIS_URL together are refused unless they agree', async (t) => {
  await t.rejects(build(t, { STORE: 'sqlite', REDIS_URL: 'redis://127.0.0.1:6379' }), /REDIS_URL is set but STORE=sqlite: unset one of them/)
  await t.rejects(build(t, { STORE: 'redis' }), /STORE=redis needs REDIS_URL/)
})
