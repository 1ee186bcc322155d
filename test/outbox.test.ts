/**
 * The outbox beyond the contract (test/backend-contract.test.ts runs what
 * every backend does): on SQLite, entries are in the event's transaction and
 * survive a restart; on Redis, several instances share it: each entry is
 * claimed by one, silences made on one hold on the others, and what is kept
 * of finished notifications is capped.
 */
import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { Backend, OutboxDraft } from '../plugins/core/backend'
import { DATABASE_FILE, type SqliteBackend } from '../plugins/core/sqlite-backend'
import { stamp } from '../plugins/core/publisher'
import type { Event } from '../schemas/events'
import { makeBackend } from './helpers/backends'
import { createRedisBackend, type RedisBackend } from '../plugins/core/redis-backend'
import { createRedisOutbox } from '../plugins/core/redis/outbox'
import { redisPrefix, redisTest, SHARED_REDIS_URL } from './helpers/redis'
import pino from 'pino'
import { waitFor } from './helpers/wait'

const T0 = 1_700_000_000_000

function routed (backend: Backend, receivers: string[]): Event[] {
  const asked: Event[] = []
  let n = 0
  backend.outbox.route((event): OutboxDraft[] => {
    asked.push(event)
    return receivers.map((receiver) => ({ id: `d-${++n}`, receiver, kind: event.type === 'alert' ? 'raised' : 'acknowledged' }))
  })
  return asked
}

t.test('sqlite: entries are in the event\'s transaction, and a restart keeps them pending', async (t) => {
  const dir = t.testdir()
  const first = await makeBackend(t, 'sqlite', { dir, now: () => T0 })
  routed(first, ['hook'])
  const alert = stamp({ type: 'alert', message: 'disk full', location: 'db1' }, () => T0)
  // Both writes of one turn: committed together when the turn ends.
  const appended = first.store.append(alert)
  // A second connection that only reads: writes refused by the connection itself.
  const peek = new Database(join(dir, DATABASE_FILE), { fileMustExist: true })
  peek.pragma('query_only = ON')
  t.teardown(() => peek.close())
  t.equal((peek.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0, 'nothing is visible before the commit')
  await appended
  t.same(peek.prepare('SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM outbox) AS outbox').get(), { events: 1, outbox: 1 })
  await first.close()

  const second = await makeBackend(t, 'sqlite', { dir, now: () => T0 })
  t.same(await second.outbox.depth(), { pending: 1, oldestAt: T0 })
  t.match(await second.outbox.claim('hook', T0, 1000, 10), [{ id: 'd-1', event: alert }])
})

t.test('sqlite: the retention sweep deletes finished notifications and their attempts older than the cutoff, never pending ones', async (t) => {
  let now = T0
  const backend = await makeBackend(t, 'sqlite', { now: () => now }) as SqliteBackend
  routed(backend, ['hook'])
  const done = stamp({ type: 'alert', message: 'old', location: 'l' }, () => now)
  const waiting = stamp({ type: 'alert', message: 'waiting', location: 'l' }, () => now)
  await backend.store.append(done)
  await backend.store.append(waiting)
  const { outbox } = backend
  await outbox.settle('d-1', { attempt: { deliveryId: 'd-1', alertId: done.id, eventId: done.id, receiver: 'hook', kind: 'raised', attempt: 1, at: now, result: 'delivered', status: 200 } })
  now += 10_000
  await backend.sweep(T0 - 1)
  t.equal((await outbox.recent({ limit: 10 })).length, 2, 'nothing older than the cutoff')
  await backend.sweep(T0 + 1)
  t.same((await outbox.recent({ limit: 10 })).map((e) => e.id), ['d-2'], 'the delivered one went; the pending one stays')
  t.same(await outbox.attempts(done.id), [])
})

/** Instances of one cluster: Redis backends on one prefix, closed when the test ends. */
async function clusterOf (t: Test, n: number, now: () => number = () => T0): Promise<RedisBackend[]> {
  const prefix = redisPrefix(t)
  const out: RedisBackend[] = []
  for (let i = 0; i < n; i++) {
    const backend = createRedisBackend({ url: SHARED_REDIS_URL, prefix, historySize: 100, now, silencesRefreshMs: 60_000, log: pino({ level: 'silent' }) })
    t.teardown(async () => await backend.close())
    await backend.settled()
    out.push(backend)
  }
  return out
}

redisTest('redis: of several instances claiming at once, each entry goes to exactly one; a claim that lapses is taken by another', async (t) => {
  const [a, b] = await clusterOf(t, 2)
  if (a === undefined || b === undefined) throw new Error('no cluster')
  routed(a, ['hook'])
  for (let i = 0; i < 40; i++) await a.store.append(stamp({ type: 'alert', message: `m${i}`, location: 'l' }, () => T0))
  const claims = await Promise.all([a, b, a, b].map(async (backend) => await backend.outbox.claim('hook', T0, 30_000, 15)))
  const ids = claims.flat().map((e) => e.id)
  t.equal(ids.length, 40, 'every entry claimed')
  t.equal(new Set(ids).size, 40, 'none twice')
  t.ok(claims.every((c) => c.length <= 15), 'each claim takes up to its limit')
  const message = (e: { event: Event }): string => e.event.type === 'alert' ? e.event.message : ''
  const first = claims.find((c) => c.some((e) => message(e) === 'm0')) ?? []
  t.same(first.slice(0, 3).map(message), ['m0', 'm1', 'm2'], 'oldest first')
  t.same(await b.outbox.claim('hook', T0 + 29_999, 30_000, 100), [], 'all held')
  // The instance that claimed them died: after the lease, another takes them.
  t.equal((await b.outbox.claim('hook', T0 + 30_000, 30_000, 100)).length, 40)
})

redisTest('redis: claimGroup skips the grouped entries another instance holds', async (t) => {
  const [a, b] = await clusterOf(t, 2)
  if (a === undefined || b === undefined) throw new Error('no cluster')
  let n = 0
  a.outbox.route(() => [{ id: `g-${++n}`, receiver: 'hook', kind: 'raised', groupMs: 30_000 }])
  for (let i = 0; i < 3; i++) await a.store.append(stamp({ type: 'alert', message: `m${i}`, location: 'l' }, () => T0))
  t.same((await a.outbox.claim('hook', T0 + 30_000, 40_000, 1)).map((e) => e.id), ['g-1'])
  t.same((await a.outbox.claimGroup('hook', T0 + 30_000, 40_000, 50)).map((e) => e.id), ['g-2', 'g-3'])
  t.same(await b.outbox.claimGroup('hook', T0 + 30_000, 40_000, 50), [], 'all held by the other instance')
  t.same(await b.outbox.claim('hook', T0 + 30_000, 40_000, 50), [])
  t.same((await b.outbox.claimGroup('hook', T0 + 70_000, 40_000, 50)).map((e) => e.id), ['g-1', 'g-2', 'g-3'], 'until the lease ends')
})

redisTest('redis: a silence made on one instance holds on the other from then on: an append worked out from an older copy is worked out again', async (t) => {
  const [a, b] = await clusterOf(t, 2)
  if (a === undefined || b === undefined) throw new Error('no cluster')
  let held: string[] = []
  b.silences.follow?.((silences) => { held = silences.map((s) => s.id) })
  t.same(await b.silences.list(), [])
  let asked = 0
  b.outbox.route((event) => {
    asked++
    return held.length > 0 ? [] : [{ id: `d-${event.id}`, receiver: 'hook', kind: 'raised' }]
  })
  await b.store.append(stamp({ type: 'alert', message: 'before', location: 'db1' }, () => T0))
  t.equal(asked, 1)
  await a.silences.add({ id: 's1', match: { location: 'db1' }, startsAt: T0, endsAt: T0 + 60_000, comment: '', by: 'ana', createdAt: T0 })
  await b.store.append(stamp({ type: 'alert', message: 'after', location: 'db1' }, () => T0))
  t.equal(asked, 3, 'refused once, worked out again with the silence')
  t.same(held, ['s1'], 'the follower got the silences')
  t.same((await b.outbox.recent({ limit: 10 })).map((e) => e.event.type === 'alert' ? e.event.message : ''), ['before'], 'the alert raised after the silence notifies nobody')
  await b.silences.refresh()
  t.equal(asked, 3, 'a refresh with nothing changed reads nothing')
  t.same(await a.silences.remove('s1'), { id: 's1', match: { location: 'db1' }, startsAt: T0, endsAt: T0 + 60_000, comment: '', by: 'ana', createdAt: T0 })
  t.equal(await b.silences.remove('s1'), undefined, 'removed once across the cluster')
  await b.silences.refresh()
  t.same(held, [])
})

redisTest('redis: silences changing all the time never lose an event: past a few refusals it is stored with what was worked out last', async (t) => {
  const [a] = await clusterOf(t, 1)
  if (a === undefined) throw new Error('no cluster')
  await a.silences.list()
  let asked = 0
  a.outbox.route(() => {
    asked++
    // Another instance changes the silences between each working-out and its append.
    void a.command.incr(a.keys.silencesRev)
    return [{ id: `d-${asked}`, receiver: 'hook', kind: 'raised' }]
  })
  t.same(await a.store.append(stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0)), { stored: true })
  t.equal(asked, 6)
  t.same((await a.outbox.recent({ limit: 10 })).map((e) => e.id), ['d-6'])
})

redisTest('redis: finished entries and attempts are capped; pending entries are all kept', async (t) => {
  const [a] = await clusterOf(t, 1)
  if (a === undefined) throw new Error('no cluster')
  const outbox = createRedisOutbox(a.command, a.keys, () => T0, { finishedMax: 2, attemptedMax: 2, attemptsPerAlert: 2 })
  const events = [0, 1, 2, 3].map((i) => stamp({ type: 'alert', message: `m${i}`, location: 'l' }, () => T0))
  for (const [i, event] of events.entries()) await outbox.enqueue(event, [{ id: `d-${i}`, receiver: 'hook', kind: 'raised' }])
  const at = (id: string, n: number, result: 'retrying' | 'delivered'): Parameters<typeof outbox.settle>[1] =>
    ({ attempt: { deliveryId: id, alertId: events[Number(id.slice(2))]?.id ?? '', eventId: '', receiver: 'hook', kind: 'raised', attempt: n, at: T0, result } })
  for (let n = 1; n <= 3; n++) await outbox.settle('d-0', at('d-0', n, 'retrying'))
  t.same((await outbox.attempts(events[0]?.id ?? '')).map((x) => x.attempt), [2, 3], 'the newest attempts of an alert')
  for (const id of ['d-0', 'd-1', 'd-2']) await outbox.settle(id, at(id, 9, 'delivered'))
  t.same((await outbox.recent({ limit: 10 })).map((e) => e.id), ['d-3', 'd-2', 'd-1'], 'the oldest finished one went; the pending one stays')
  t.same(await outbox.attempts(events[0]?.id ?? ''), [], 'the attempts of the alert attempted longest ago went')
  t.equal((await outbox.attempts(events[2]?.id ?? '')).length, 1)
  t.same(await a.command.exists(a.keys.outbox.entry('d-0')), 0, 'its hash is gone')
  t.same(await outbox.depth(), { pending: 1, oldestAt: T0 })
})

redisTest('redis: an instance\'s copy of the silences follows another\'s changes without an append; one that never read them reads them before routing', async (t) => {
  const prefix = redisPrefix(t)
  const make = async (silencesRefreshMs: number): Promise<RedisBackend> => {
    const backend = createRedisBackend({ url: SHARED_REDIS_URL, prefix, historySize: 100, now: () => T0, silencesRefreshMs, log: pino({ level: 'silent' }) })
    t.teardown(async () => await backend.close())
    await backend.settled()
    return backend
  }
  const [a, b] = [await make(60_000), await make(20)]
  const seenByB: string[][] = []
  b.silences.follow?.((silences) => seenByB.push(silences.map((s) => s.id)))
  await a.silences.add({ id: 's1', match: { location: 'db1' }, startsAt: T0, endsAt: T0 + 60_000, comment: '', by: 'ana', createdAt: T0 })
  await waitFor(() => seenByB.some((ids) => ids.includes('s1')))
  t.pass('b read the silence on its own')

  // a never read the silences: its first routed append reads them first.
  let held: string[] | undefined
  a.silences.follow?.((silences) => { held = silences.map((s) => s.id) })
  a.outbox.route(() => held?.includes('s1') === true ? [] : [{ id: 'loud', receiver: 'hook', kind: 'raised' }])
  await a.store.append(stamp({ type: 'alert', message: 'm', location: 'db1' }, () => T0))
  t.same(held, ['s1'])
  t.same(await a.outbox.depth(), { pending: 0 }, 'routed by the silence')
})

redisTest('redis: an entry whose hash is gone (evicted) is dropped from the indexes, not handed out', async (t) => {
  const [a] = await clusterOf(t, 1)
  if (a === undefined) throw new Error('no cluster')
  const event = stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0)
  await a.outbox.enqueue(event, [{ id: 'gone', receiver: 'hook', kind: 'raised', groupMs: 1000 }, { id: 'kept', receiver: 'hook', kind: 'raised' }])
  await a.command.del(a.keys.outbox.entry('gone'))
  t.same((await a.outbox.claim('hook', T0 + 1000, 1000, 10)).map((e) => e.id), ['kept'])
  t.same(await a.command.zcard(a.keys.outbox.due('hook')), 1)
  t.same(await a.command.zcard(a.keys.outbox.group('hook')), 0)
})
