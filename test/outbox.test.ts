/**
 * The outbox behind the backend seam, on memory and SQLite: entries are
 * written in the same atomic step as their event (and not at all when the
 * event is not stored), claimed with a lease, settled, listed and counted;
 * on SQLite they survive a restart.
 */
import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { Backend, OutboxDraft } from '../plugins/core/backend'
import { DATABASE_FILE, type SqliteBackend } from '../plugins/core/sqlite-backend'
import { stamp } from '../plugins/core/publisher'
import type { Event } from '../schemas/events'
import { makeBackend } from './helpers/backends'

const T0 = 1_700_000_000_000

function routed (backend: Backend, receivers: string[]): Event[] {
  const asked: Event[] = []
  let n = 0
  backend.outbox?.route((event): OutboxDraft[] => {
    asked.push(event)
    return receivers.map((receiver) => ({ id: `d-${++n}`, receiver, kind: event.type === 'alert' ? 'raised' : 'acknowledged' }))
  })
  return asked
}

for (const kind of ['memory', 'sqlite'] as const) {
  t.test(`${kind}: an appended event writes its entries in the same step; a refused one writes none`, async (t: Test) => {
    let now = T0
    const backend = await makeBackend(t, kind, { now: () => now })
    const outbox = backend.outbox
    if (outbox === undefined) throw new Error('no outbox')
    const asked = routed(backend, ['hook', 'chat'])
    const alert = stamp({ type: 'alert', message: 'disk full', location: 'db1', key: 'disk' }, () => now)
    t.same(await backend.store.append(alert, { kind: 'key-free', key: 'disk' }), { stored: true })
    // The key is taken now: this append is refused, and writes no entry.
    const second = stamp({ type: 'alert', message: 'disk full', location: 'db1', key: 'disk' }, () => now)
    t.same(await backend.store.append(second, { kind: 'key-free', key: 'disk' }), { stored: false })
    t.equal(asked.length, 1, 'the router is asked only about stored events')
    t.same(await outbox.depth(), { pending: 2, oldestAt: T0 })
    t.same((await outbox.dueReceivers(now)).sort(), ['chat', 'hook'])

    const claimed = await outbox.claim('hook', now, 30_000, 10)
    t.equal(claimed.length, 1)
    t.match(claimed[0], { id: 'd-1', receiver: 'hook', kind: 'raised', alertId: alert.id, status: 'pending', attempts: 0, event: { id: alert.id } })
    t.same(await outbox.claim('hook', now, 30_000, 10), [], 'a claimed entry is held for its lease')
    t.same(await outbox.dueReceivers(now), ['chat'])
    now += 30_000
    t.same((await outbox.claim('hook', now, 30_000, 10)).map((e) => e.id), ['d-1'], 'and due again once the lease ends (a sender that died)')

    await outbox.settle('d-1', { attempt: { deliveryId: 'd-1', alertId: alert.id, eventId: alert.id, receiver: 'hook', kind: 'raised', attempt: 1, at: now, result: 'retrying', status: 500, error: 'answered HTTP 500' }, retryAt: now + 2000 })
    t.same(await outbox.claim('hook', now + 1999, 30_000, 10), [])
    const retried = await outbox.claim('hook', now + 2000, 30_000, 10)
    t.match(retried, [{ id: 'd-1', attempts: 1, lastStatus: 500, lastError: 'answered HTTP 500' }])
    await outbox.settle('d-1', { attempt: { deliveryId: 'd-1', alertId: alert.id, eventId: alert.id, receiver: 'hook', kind: 'raised', attempt: 2, at: now + 2100, result: 'delivered', status: 200 } })
    t.same(await outbox.depth(), { pending: 1, oldestAt: T0 })
    t.match(await outbox.recent({ limit: 10 }), [{ id: 'd-2', status: 'pending' }, { id: 'd-1', status: 'delivered', attempts: 2, lastStatus: 200 }])
    t.match(await outbox.recent({ receiver: 'hook', limit: 10 }), [{ id: 'd-1' }])
    t.same((await outbox.recent({ status: 'delivered', limit: 10 })).map((e) => e.id), ['d-1'])
    t.same((await outbox.recent({ status: 'failed', limit: 10 })).length, 0)
    t.match(await outbox.attempts(alert.id), [{ attempt: 1, result: 'retrying', status: 500 }, { attempt: 2, result: 'delivered', status: 200 }])

    const chat = await outbox.claim('chat', now, 30_000, 10)
    await outbox.release(chat[0]?.id ?? '', now)
    t.same((await outbox.claim('chat', now, 30_000, 10)).map((e) => e.attempts), [0], 'a released entry is due again, no attempt counted')
    await outbox.settle('d-2', { attempt: { deliveryId: 'd-2', alertId: alert.id, eventId: alert.id, receiver: 'chat', kind: 'raised', attempt: 1, at: now, result: 'failed', error: 'gave up' } })
    t.same(await outbox.depth(), { pending: 0 })
    t.same((await outbox.recent({ status: 'failed', limit: 10 })).map((e) => e.id), ['d-2'])
  })

  t.test(`${kind}: an idempotent replay and a chat message write no entries`, async (t) => {
    const backend = await makeBackend(t, kind, { now: () => T0 })
    routed(backend, ['hook'])
    const alert = stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0)
    await backend.store.append(alert, undefined, { key: 'k', ttlMs: 60_000 })
    t.same(await backend.store.append(stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0), undefined, { key: 'k', ttlMs: 60_000 }), { stored: false, prior: alert })
    t.same(await backend.outbox?.depth(), { pending: 1, oldestAt: T0 })
  })
}

for (const kind of ['memory', 'sqlite'] as const) {
  t.test(`${kind}: a grouped entry is due when its window ends; claimGroup takes the receiver's grouped ones never tried, due or not`, async (t) => {
    let now = T0
    const backend = await makeBackend(t, kind, { now: () => now })
    const outbox = backend.outbox
    if (outbox === undefined) throw new Error('no outbox')
    let n = 0
    outbox.route(() => { n++; return [{ id: `g-${n}`, receiver: 'hook', kind: 'raised', groupMs: 30_000 }, { id: `s-${n}`, receiver: 'solo', kind: 'raised' }] })
    await backend.store.append(stamp({ type: 'alert', message: 'a', location: 'l' }, () => now))
    now += 10_000
    await backend.store.append(stamp({ type: 'alert', message: 'b', location: 'l' }, () => now))
    t.same(await outbox.dueReceivers(now), ['solo'], 'the grouped ones wait for their window')
    now = T0 + 30_000
    t.same((await outbox.dueReceivers(now)).sort(), ['hook', 'solo'])
    t.match(await outbox.claim('hook', now, 40_000, 10), [{ id: 'g-1', groupMs: 30_000 }], 'only the first is due')
    t.same((await outbox.claimGroup('hook', now, 40_000, 50)).map((e) => e.id), ['g-1', 'g-2'], 'the one not due yet goes with it')
    t.same(await outbox.claim('hook', now + 39_999, 40_000, 10), [], 'all held')
    t.same(await outbox.claimGroup('solo', now, 40_000, 50), [], 'only grouped entries')
  })
}

t.test('sqlite: entries are in the event\'s transaction, and a restart keeps them pending', async (t) => {
  const dir = t.testdir()
  const first = await makeBackend(t, 'sqlite', { dir, now: () => T0 })
  routed(first, ['hook'])
  const alert = stamp({ type: 'alert', message: 'disk full', location: 'db1' }, () => T0)
  // Both writes of one turn: committed together when the turn ends.
  const appended = first.store.append(alert)
  const peek = new Database(join(dir, DATABASE_FILE), { readonly: true })
  t.teardown(() => peek.close())
  t.equal((peek.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0, 'nothing is visible before the commit')
  await appended
  t.same(peek.prepare('SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM outbox) AS outbox').get(), { events: 1, outbox: 1 })
  await first.close()

  const second = await makeBackend(t, 'sqlite', { dir, now: () => T0 })
  t.same(await second.outbox?.depth(), { pending: 1, oldestAt: T0 })
  t.match(await second.outbox?.claim('hook', T0, 1000, 10), [{ id: 'd-1', event: alert }])
})

t.test('sqlite: the retention sweep deletes finished notifications and their attempts older than the cutoff, never pending ones', async (t) => {
  let now = T0
  const backend = await makeBackend(t, 'sqlite', { now: () => now }) as SqliteBackend
  routed(backend, ['hook'])
  const done = stamp({ type: 'alert', message: 'old', location: 'l' }, () => now)
  const waiting = stamp({ type: 'alert', message: 'waiting', location: 'l' }, () => now)
  await backend.store.append(done)
  await backend.store.append(waiting)
  const outbox = backend.outbox
  if (outbox === undefined) throw new Error('no outbox')
  await outbox.settle('d-1', { attempt: { deliveryId: 'd-1', alertId: done.id, eventId: done.id, receiver: 'hook', kind: 'raised', attempt: 1, at: now, result: 'delivered', status: 200 } })
  now += 10_000
  await backend.sweep(T0 - 1)
  t.equal((await outbox.recent({ limit: 10 })).length, 2, 'nothing older than the cutoff')
  await backend.sweep(T0 + 1)
  t.same((await outbox.recent({ limit: 10 })).map((e) => e.id), ['d-2'], 'the delivered one went; the pending one stays')
  t.same(await outbox.attempts(done.id), [])
})
