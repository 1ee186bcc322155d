import t, { type Test } from 'tap'
import pino from 'pino'
import type { Event } from '../schemas/events'
import type { Backend, EventStore, StoredAlert } from '../plugins/core/backend'
import { createMemoryBackend } from '../plugins/core/memory-backend'
import { createRedisBackend } from '../plugins/core/redis-backend'
import { createPublisher } from '../plugins/core/publisher'
import { createEscalator } from '../plugins/core/escalator'
import { Client } from './helpers/ws-client'
import { post } from './helpers/http'
import { waitFor } from './helpers/wait'
import { SHARED_REDIS_URL, cluster, redisEnv, redisPrefix, redisTest, type Instance } from './helpers/redis'
import { build } from './helpers/app'

const log = pino({ level: 'silent' })

redisTest('an acknowledgement on one instance is seen live, and over HTTP, on the other', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onB = await Client.open(`${b.wsUrl}/ws`, t)
  const raised = (await post(`${a.url}/alerts`, { message: 'db down', location: 'dc1', severity: 'critical', key: 'db' })).body
  t.match(await onB.next(), { id: raised.id, type: 'alert' })
  const acked = await post(`${b.url}/alerts/${raised.id as string}/ack`, { by: 'Ana' })
  t.equal(acked.status, 200)
  t.match(await onB.next(), { type: 'alert_update', change: 'acknowledged', alert: { id: raised.id, acknowledgedBy: 'Ana' } })
  const onA = (await (await fetch(`${a.url}/alerts?state=acknowledged`)).json()) as { alerts: Array<{ id: string }> }
  t.same(onA.alerts.map((x) => x.id), [raised.id])
  t.equal((await post(`${a.url}/alerts/resolve`, { key: 'db', by: 'Bo' })).status, 200)
  t.match(await onB.next(), { change: 'resolved', alert: { resolvedBy: 'Bo', acknowledgedBy: 'Ana' } })
  t.equal((await post(`${a.url}/alerts/${raised.id as string}/ack`, {})).status, 409, 'the other instance knows it is resolved')
})

redisTest('concurrent raises with one key on three instances: one alert, exact count', async (t) => {
  const nodes = await cluster(t, 3, redisEnv(t, { HISTORY_SIZE: 500, REPLAY_WINDOW: 500 }))
  const results = await Promise.all(Array.from({ length: 45 }, async (_, i) =>
    (await post(`${(nodes[i % 3] as Instance).url}/alerts`, { message: `m${i}`, location: 'l', key: 'same' })).body))
  t.equal(new Set(results.map((r) => r.id)).size, 1)
  t.same(results.map((r) => r.count as number).sort((x, y) => x - y), Array.from({ length: 45 }, (_, i) => i + 1))
})

// The same store contract in both modes: folding, caps and eviction.
const kinds: Array<[string, (t: Test, onEvict: (ids: string[]) => void) => Promise<Backend>]> = [
  ['memory', async (_t, onEvict) => createMemoryBackend({ historySize: 2, openAlertsMax: 3, onEvict })],
  ['redis', async (t, onEvict) => {
    const backend = createRedisBackend({ url: SHARED_REDIS_URL, prefix: redisPrefix(t), historySize: 2, openAlertsMax: 3, onEvict, log })
    t.teardown(async () => await backend.close())
    await backend.settled()
    return backend
  }]
]

for (const [kind, make] of kinds) {
  const test = kind === 'redis' ? redisTest : (name: string, fn: (t: Test) => Promise<void>) => { void t.test(name, fn) }

  test(`${kind} store: resolved alerts capped, unresolved kept up to the limit, oldest least severe evicted`, async (t) => {
    const evicted: string[] = []
    const backend = await make(t, (ids) => evicted.push(...ids))
    const publisher = createPublisher(backend.store)
    const raise = async (message: string, severity: 'info' | 'warning' | 'critical', key?: string) =>
      await publisher.publish({ type: 'alert', message, location: 'l', severity, ...(key === undefined ? {} : { key }) })
    const names = async (store: EventStore, unresolved?: boolean): Promise<string[]> =>
      (await store.alerts(unresolved === undefined ? {} : { unresolved })).map((s) => s.alert.message)

    for (const name of ['r0', 'r1', 'r2']) {
      const alert = await raise(name, 'critical')
      await publisher.act({ id: alert.id }, 'resolve', 'x')
    }
    t.same(await names(backend.store), ['r1', 'r2'], 'the oldest resolved went')
    const info = await raise('info', 'info', 'k-info')
    await raise('warn', 'warning')
    await raise('crit', 'critical')
    t.same(await names(backend.store, true), ['info', 'warn', 'crit'])
    await raise('crit2', 'critical')
    t.same(await names(backend.store, true), ['warn', 'crit', 'crit2'], 'the info alert went first')
    t.equal(await backend.store.alert(info.id), undefined)
    t.equal(await backend.store.openByKey('k-info'), undefined, 'and its key is free again')
    t.same((await backend.store.alerts({ unresolved: true, severity: 'critical' })).map((s) => s.alert.message), ['crit', 'crit2'])
    t.same(evicted, [info.id], 'the eviction is reported with the alert\'s id')
    const all = await backend.store.alerts()
    const newestFirst = [...all].reverse()
    t.same((await backend.store.newest(2)).map((s) => s.alert.message), ['crit2', 'crit'], 'newest: the last ones raised, newest first')
    t.same(await backend.store.newest(2), newestFirst.slice(0, 2), 'each as alerts() has it')
    t.same(await backend.store.newest(100), newestFirst, 'more than there are: all of them')
    t.same(await backend.store.newest(0), [])
    const below = (newestFirst[1] as StoredAlert).seq
    t.same(await backend.store.newest(2, below), newestFirst.slice(2, 4), 'before a seq: the ones raised before it')
    t.same(await backend.store.newest(100, (newestFirst[newestFirst.length - 1] as StoredAlert).seq), [], 'before the oldest: none')
  })

  test(`${kind} store: an alert whose severity changes on a repeat keeps its age for eviction`, async (t) => {
    const evicted: string[] = []
    const backend = await make(t, (ids) => evicted.push(...ids))
    const publisher = createPublisher(backend.store)
    const raise = async (message: string, severity: 'info' | 'warning' | 'critical', key?: string) =>
      await publisher.publish({ type: 'alert', message, location: 'l', severity, ...(key === undefined ? {} : { key }) })
    const first = await raise('first', 'warning', 'k')
    const second = await raise('second', 'info')
    await raise('first again', 'info', 'k')
    await raise('third', 'critical')
    await raise('fourth', 'critical')
    t.same(evicted, [first.id], 'the older of the two info alerts went, though it became info later')
    t.ok(await backend.store.alert(second.id))
    const fifth = await raise('fifth', 'info')
    t.same(evicted, [first.id, second.id], 'then the next oldest info alert')
    t.ok(await backend.store.alert(fifth.id), 'the newest info alert stays')
  })

  test(`${kind}: GET /alerts reads a page a batch at a time; a rare filter reads on, every page and cursor as from the whole store`, async (t) => {
    const app = await build(t, kind === 'redis' ? redisEnv(t) : {})
    for (let i = 0; i < 260; i++) {
      await app.publisher.publish({ type: 'alert', message: `a${i}`, location: 'l', severity: i % 40 === 0 ? 'critical' : 'info' })
    }
    // The reference: every stored alert, newest first, from one full read.
    const everyOne = (await app.backend.store.alerts()).reverse().map((s) => s.alert.message)
    const pages = async (query: string): Promise<string[][]> => {
      const out: string[][] = []
      let cursor: string | undefined
      do {
        const res = await app.inject(`/alerts?${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`)
        t.equal(res.statusCode, 200)
        const body = res.json()
        out.push(body.alerts.map((a: { message: string }) => a.message))
        cursor = body.next
      } while (cursor !== undefined && out.length < 20)
      return out
    }
    const critical = everyOne.filter((m) => Number(m.slice(1)) % 40 === 0)
    t.same(critical, ['a240', 'a200', 'a160', 'a120', 'a80', 'a40', 'a0'])
    t.same(await pages('severity=critical&limit=2'), [critical.slice(0, 2), critical.slice(2, 4), critical.slice(4, 6), critical.slice(6)],
      'pages of 2 of 7 spread over 260: each page reads batches until it is full')
    t.same(await pages('limit=120'), [everyOne.slice(0, 120), everyOne.slice(120, 240), everyOne.slice(240)], 'pages of 120 of 260')
    t.same(await pages('limit=260'), [everyOne], 'one page of exactly all: no cursor')
  })
}

redisTest('escalation across instances: each interval, one escalation for the cluster', async (t) => {
  const prefix = redisPrefix(t)
  let now = Date.parse('2026-01-01T00:00:00.000Z')
  const clock = { now: () => now, setTimeout: () => ({ unref: () => {} }), clearTimeout: () => {} }
  const backends = await Promise.all([0, 1, 2].map(async () => {
    const backend = createRedisBackend({ url: SHARED_REDIS_URL, prefix, historySize: 100, log })
    t.teardown(async () => await backend.close())
    await backend.settled()
    return backend
  }))
  const seen: Event[] = []
  backends[0]?.feed.subscribe((event) => seen.push(event))
  const publishers = backends.map((backend) => createPublisher(backend.store, { now: clock.now }))
  const escalators = backends.map((backend, i) => createEscalator({ afterMs: 60_000, store: backend.store, publisher: publishers[i] as ReturnType<typeof createPublisher>, log, timers: clock }))
  const alert = await publishers[0]?.publish({ type: 'alert', message: 'x', location: 'y', severity: 'critical' })
  for (let round = 1; round <= 3; round++) {
    now += 60_000
    await Promise.all(escalators.map(async (e) => await e.check()))
    await Promise.all(escalators.map(async (e) => await e.check()))
    await waitFor(() => seen.filter((e) => e.type === 'alert_update').length >= round)
    const stored = await backends[1]?.store.alert(alert?.id ?? '')
    t.equal(stored?.alert.escalations, round, `round ${round}: one escalation`)
  }
  t.equal(seen.filter((e) => e.type === 'alert_update').length, 3)
})
