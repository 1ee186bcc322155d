import t from 'tap'
import pino from 'pino'
import type { Event } from '../schemas/events'
import { createMemoryBackend, createMemoryClaims } from '../plugins/core/memory-backend'
import { createPublisher } from '../plugins/core/publisher'
import { createEscalator, escalationPeriod } from '../plugins/core/escalator'
import type { Clock } from '@tapjs/clock'
import { build } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { waitFor } from './helpers/wait'

/** Timers set on the mock clock and not yet fired. */
const pending = (clock: Clock): number => [...clock.timers.values()].reduce((n, due) => n + due.length, 0)

function setup (afterMs: number) {
  const { clock, timers } = mockTimers()
  const backend = createMemoryBackend({ historySize: 100 })
  const events: Event[] = []
  backend.feed.subscribe((event) => events.push(event))
  const publisher = createPublisher(backend.store, { now: timers.now })
  const escalator = createEscalator({ afterMs, store: backend.store, publisher, log: pino({ level: 'silent' }), timers })
  return { clock, timers, backend, events, publisher, escalator }
}

const MINUTE = 60_000

t.test('a critical alert nobody acknowledges is announced again every interval, until acknowledged', async (t) => {
  const { clock, timers, events, publisher, escalator } = setup(5 * MINUTE)
  const alert = await publisher.publish({ type: 'alert', message: 'db down', location: 'dc1', severity: 'critical' })
  await publisher.publish({ type: 'alert', message: 'slow', location: 'dc1', severity: 'warning' })

  clock.advance(5 * MINUTE - 1)
  await escalator.check()
  t.equal(events.length, 2, 'not yet due')
  clock.advance(1)
  await escalator.check()
  t.match(events[2], { type: 'alert_update', change: 'escalated', alert: { id: alert.id, escalations: 1, escalatedAt: new Date(timers.now()).toISOString(), state: 'open' } })
  await escalator.check()
  t.equal(events.length, 3, 'once per interval, however often checked')

  clock.advance(5 * MINUTE)
  await escalator.check()
  t.match(events[3], { change: 'escalated', alert: { escalations: 2 } })

  await publisher.act({ id: alert.id }, 'acknowledge', 'Ana')
  clock.advance(60 * MINUTE)
  await escalator.check()
  t.equal(events.length, 5, 'acknowledged: no more escalations')
  t.equal(events.filter((e) => e.type === 'alert_update' && e.alert.severity === 'warning').length, 0, 'warnings never escalate')
})

t.test('the escalator runs on its own timer and stops; 0 turns it off', async (t) => {
  const { clock, backend, events, publisher, escalator } = setup(MINUTE)
  await publisher.publish({ type: 'alert', message: 'x', location: 'y', severity: 'critical' })
  escalator.start()
  escalator.start()
  t.equal(pending(clock), 1, 'one timer')
  // The pass its timer starts runs asynchronously: its update is the event waited for.
  const escalated = new Promise<Event>((resolve) => backend.feed.subscribe((event) => { if (event.type === 'alert_update') resolve(event) }))
  clock.advance(MINUTE)
  t.match(await escalated, { change: 'escalated' })
  t.equal(events.length, 2)
  escalator.stop()
  t.equal(pending(clock), 0, 'stopped: no timer left')

  const off = setup(0)
  off.escalator.start()
  t.equal(pending(off.clock), 0)
})

t.test('concurrent escalation passes (several instances) escalate once', async (t) => {
  const { clock, timers, events, publisher, backend } = setup(MINUTE)
  await publisher.publish({ type: 'alert', message: 'x', location: 'y', severity: 'critical' })
  const instances = Array.from({ length: 3 }, () => createEscalator({ afterMs: MINUTE, store: backend.store, publisher: createPublisher(backend.store, { now: timers.now }), log: pino({ level: 'silent' }), timers }))
  clock.advance(MINUTE)
  await Promise.all(instances.map(async (e) => await e.check()))
  t.equal(events.filter((e) => e.type === 'alert_update').length, 1)
})

t.test('with a claim per period, one instance per period reads the open critical alerts', async (t) => {
  const { clock, timers, events, publisher, backend } = setup(MINUTE)
  await publisher.publish({ type: 'alert', message: 'x', location: 'y', severity: 'critical' })
  let reads = 0
  const store = { alerts: async (scope?: Parameters<typeof backend.store.alerts>[0]) => { reads++; return await backend.store.alerts(scope) } }
  const claims = createMemoryClaims(timers.now)
  const claim = async (slot: number): Promise<boolean> => await claims.claim(`check:${slot}`, 2 * escalationPeriod(MINUTE))
  const instances = Array.from({ length: 3 }, () => createEscalator({ afterMs: MINUTE, store, publisher: createPublisher(backend.store, { now: timers.now }), log: pino({ level: 'silent' }), timers, claim }))
  clock.advance(MINUTE)
  await Promise.all(instances.map(async (e) => await e.check()))
  t.equal(reads, 1, 'one read for the three')
  t.equal(events.filter((e) => e.type === 'alert_update').length, 1, 'and the escalation made')
  await Promise.all(instances.map(async (e) => await e.check()))
  t.equal(reads, 1, 'the same period: no second read')
  clock.advance(1000)
  await Promise.all(instances.map(async (e) => await e.check()))
  t.equal(reads, 2, 'the next period: one more')
})

t.test('in the app, the escalator runs on its timer and takes each period\'s check through the cluster\'s claims', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, { ESCALATE_AFTER_MS: MINUTE }, { timers })
  const updates: Event[] = []
  app.publisher.onPublish((event) => { if (event.type === 'alert_update') updates.push(event) })
  const alert = await app.publisher.publish({ type: 'alert', message: 'x', location: 'y', severity: 'critical' })
  clock.advance(MINUTE)
  await waitFor(() => updates.length > 0)
  t.match(updates, [{ change: 'escalated', alert: { id: alert.id, escalations: 1 } }])
})

t.test('ESCALATE_AFTER_MS is read from the configuration, 0 by default', async (t) => {
  t.equal((await build(t)).config.ESCALATE_AFTER_MS, 0)
  t.equal((await build(t, { ESCALATE_AFTER_MS: 300000 })).config.ESCALATE_AFTER_MS, 300000)
})
