/**
 * The backend contract: every behaviour of the seam (plugins/core/backend.ts),
 * run on memory, SQLite and Redis alike. A backend is proven by this suite.
 */
import fc from 'fast-check'
import type { Alert, Event, Severity } from '../schemas/events'
import type { Backend, DeliveryAttempt, EventStore, HeartbeatMonitor, HeartbeatPing, HeartbeatPingKind, HeartbeatPingWrite, OutboxDraft, Replay, Silence } from '../plugins/core/backend'
import { applyPing } from '../plugins/core/heartbeat-pings'
import { HeartbeatsFullError } from '../plugins/core/errors'
import { createPublisher, stamp } from '../plugins/core/publisher'
import { BACKEND_KINDS, backendTest, makeBackend } from './helpers/backends'

const alert = (message: string, extra: { key?: string } = {}): Event => stamp({ type: 'alert', message, location: 'x', ...extra })
const chat = (message: string): Event => stamp({ type: 'chat', sender: 's', message })
const names = (r: Replay | Event[]): string[] => ('events' in r ? r.events : r).map((e) => 'message' in e ? e.message : e.type === 'alert_update' ? `${e.change}:${e.alert.message}` : '')

type Op =
  | { op: 'raise', key?: string, severity: 'info' | 'warning' | 'critical' }
  | { op: 'ack' | 'resolve', pick: number }
  | { op: 'resolveKey', key: string }
  | { op: 'chat' }

const opKeys = ['a', 'b', 'c']
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('raise' as const), key: fc.option(fc.constantFrom(...opKeys), { nil: undefined }), severity: fc.constantFrom('info' as const, 'warning' as const, 'critical' as const) }),
  fc.record({ op: fc.constantFrom('ack' as const, 'resolve' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('resolveKey' as const), key: fc.constantFrom(...opKeys) }),
  fc.record({ op: fc.constant('chat' as const) })
)

/** What a client holds after applying events: every alert as the last event about it said. */
function fold (state: Map<string, Alert>, events: Event[]): Map<string, Alert> {
  for (const event of events) {
    if (event.type === 'alert') state.set(event.id, event)
    else if (event.type === 'alert_update') state.set(event.alert.id, event.alert)
  }
  return state
}

/** Runs `ops`, has a client reconnect with since=<the last event it saw at `reconnectAt`>, and compares what it holds with what HTTP reads. */
async function replayEqualsBoard (backend: Backend, ops: Op[], reconnectAt: number): Promise<void> {
  const publisher = createPublisher(backend.store)
  const ids: string[] = []
  let lastSeenId: string | undefined
  for (const [i, op] of ops.entries()) {
    if (i === reconnectAt) lastSeenId = (await backend.store.since()).events.at(-1)?.id
    try {
      if (op.op === 'raise') ids.push((await publisher.publish({ type: 'alert', message: `m${i}`, location: 'l', severity: op.severity, ...(op.key === undefined ? {} : { key: op.key }) })).id)
      else if (op.op === 'chat') await publisher.publish({ type: 'chat', sender: 's', message: `c${i}` })
      else if (op.op === 'resolveKey') await publisher.act({ key: op.key }, 'resolve', 'r')
      else if (ids.length > 0) await publisher.act({ id: ids[op.pick % ids.length] as string }, op.op === 'ack' ? 'acknowledge' : 'resolve', 'p')
    } catch (err) {
      // Refusals (unknown key, acknowledging a resolved alert) are part of the game.
      if (!/AlertNotFound|AlertConflict/.test((err as Error).name)) throw err
    }
  }
  const all = (await backend.store.since()).events
  const cut = lastSeenId === undefined ? 0 : all.findIndex((e) => e.id === lastSeenId) + 1
  const client = fold(new Map(), all.slice(0, cut))
  const replay = await backend.store.since(lastSeenId)
  if (!replay.found) throw new Error('the replay point should be retained')
  fold(client, replay.events)
  for (const { alert } of await backend.store.alerts()) {
    if (JSON.stringify(client.get(alert.id)) !== JSON.stringify(alert)) {
      throw new Error(`replayed ${JSON.stringify(client.get(alert.id))} but HTTP reads ${JSON.stringify(alert)}`)
    }
  }
}

for (const kind of BACKEND_KINDS) {
  const store = async (t: Parameters<typeof makeBackend>[0], replayWindow = 3): Promise<EventStore> => (await makeBackend(t, kind, { replayWindow })).store

  backendTest(kind, 'each stream is capped on its own for replay, and lists oldest first', async (t) => {
    const s = await store(t)
    for (const e of [0, 1, 2, 3, 4].map((i) => alert(`a${i}`))) await s.append(e)
    for (const e of [0, 1].map((i) => chat(`c${i}`))) await s.append(e)
    t.same((await s.alerts()).map((e) => e.alert.message), ['a0', 'a1', 'a2', 'a3', 'a4'], 'alerts that are not resolved are all kept')
    t.same((await s.chats()).map((e) => e.message), ['c0', 'c1'])
    t.same((await s.chats(1)).map((e) => e.message), ['c1'], 'the newest count, oldest first')
    t.same(names(await s.since()), ['a2', 'a3', 'a4', 'c0', 'c1'], 'a replay reaches the window of each stream')
  })

  backendTest(kind, 'since() replays both streams in publish order after an id', async (t) => {
    const s = await store(t)
    const events = [alert('a0'), chat('c0'), alert('a1'), chat('c1'), alert('a2')]
    for (const e of events) await s.append(e)

    const all = await s.since()
    t.equal(all.found, true)
    t.same(all.events, events, 'the very objects published, in publish order')
    const after = await s.since(events[1]?.id)
    t.equal(after.found, true)
    t.same(names(after), ['a1', 'c1', 'a2'])
    t.same(await s.since(events[4]?.id), { found: true, events: [] }, 'nothing after the newest')
    const unknown = await s.since('00000000-0000-4000-8000-000000000000')
    t.equal(unknown.found, false)
    t.same(names(unknown), ['a0', 'c0', 'a1', 'c1', 'a2'], 'an unknown id gets the whole window')

    // Push a0 out of the alert stream's window: its id is no longer reached.
    await s.append(alert('a3'))
    const evicted = await s.since(events[0]?.id)
    t.equal(evicted.found, false)
    t.same(names(evicted), ['c0', 'a1', 'c1', 'a2', 'a3'])
    t.same(names(await s.since(events[1]?.id)), ['a1', 'c1', 'a2', 'a3'], 'a chat id still in its window still works')
  })

  backendTest(kind, 'since() with a limit reads a page: the first events, and whether more follow', async (t) => {
    const s = await store(t, 10)
    const events = [alert('a0'), chat('c0'), alert('a1'), chat('c1'), alert('a2'), chat('c2'), alert('a3')]
    for (const e of events) await s.append(e)
    // Page by page from the start, each after the last event of the one before.
    const pages: string[][] = []
    let after: string | undefined
    for (;;) {
      const page = await s.since(after, 3)
      t.equal(page.found, true)
      pages.push(names(page))
      if (page.more !== true) break
      after = page.events.at(-1)?.id
    }
    t.same(pages, [['a0', 'c0', 'a1'], ['c1', 'a2', 'c2'], ['a3']], 'the pages are the whole replay, in publish order')
    t.same(await s.since(events[3]?.id, 4), { found: true, events: events.slice(4) }, 'a limit the rest fits in: no more')
    t.same(await s.since(events[3]?.id, 3), { found: true, events: events.slice(4) }, 'a limit the rest fills exactly: no more')
    t.same(await s.since(events[6]?.id, 3), { found: true, events: [] })
    const unknown = await s.since('00000000-0000-4000-8000-000000000000', 2)
    t.same(unknown, { found: false, events: events.slice(0, 2), more: true }, 'an unknown id: the first page of the whole window')
  })

  backendTest(kind, 'a replay from an id has a gap when the other stream let go of a later event', async (t) => {
    const s = await store(t)
    const c0 = chat('c0')
    await s.append(c0)
    for (const e of [0, 1, 2].map((i) => alert(`a${i}`))) await s.append(e)
    t.same(await s.since(c0.id), { found: true, events: (await s.since()).events.slice(1) }, 'all three alerts after c0 are still there')
    await s.append(alert('a3'))
    const replay = await s.since(c0.id)
    t.equal(replay.found, false, 'a gap: a0 came after c0 and left the window')
    t.same(names(replay), ['c0', 'a1', 'a2', 'a3'])
    const a3 = (await s.since()).events.at(-1)
    for (const e of [1, 2, 3].map((i) => chat(`c${i}`))) await s.append(e)
    t.same(names(await s.since(a3?.id)), ['c1', 'c2', 'c3'], 'c0 left, but it came before a3: no gap')
    t.equal((await s.since(a3?.id)).found, true)
    await s.append(chat('c4'))
    t.equal((await s.since(a3?.id)).found, false, 'c1 came after a3 and left: a gap')
  })

  backendTest(kind, 'an empty store', async (t) => {
    const s = await store(t)
    t.same(await s.alerts(), [])
    t.same(await s.chats(), [])
    t.same(await s.newest(10), [])
    t.same(await s.since(), { found: true, events: [] })
    t.same(await s.since('00000000-0000-4000-8000-000000000000'), { found: false, events: [] })
    t.same(await s.timeline('00000000-0000-4000-8000-000000000000'), [])
  })

  backendTest(kind, 'expectations and idempotency keys are checked in the same step as the append', async (t) => {
    const s = await store(t, 100)
    const first = alert('a', { key: 'k' })
    t.same(await s.append(first, { kind: 'key-free', key: 'k' }), { stored: true })
    t.same(await s.append(alert('b', { key: 'k' }), { kind: 'key-free', key: 'k' }), { stored: false }, 'the key is taken by an open alert')
    t.equal((await s.openByKey('k'))?.alert.id, first.id)
    t.same(await s.append(alert('c'), { kind: 'rev', alertId: first.id, rev: 'not-the-rev' }), { stored: false }, 'a stale revision')
    t.equal((await s.alert(first.id))?.rev, first.id, 'the raising event is the first revision')
    const once = { key: 'idem', ttlMs: 60_000 }
    const keyed = chat('once')
    t.same(await s.append(keyed, undefined, once), { stored: true })
    t.same(await s.append(chat('twice'), undefined, once), { stored: false, prior: keyed }, 'the first event comes back')
    t.same(names(await s.since()), ['a', 'once'], 'nothing else was stored')
    // Racing appends in one turn: exactly one wins the key.
    const racing = await Promise.all([1, 2, 3].map(async (i) => await s.append(alert(`r${i}`, { key: 'race' }), { kind: 'key-free', key: 'race' })))
    t.equal(racing.filter((r) => r.stored).length, 1, 'one of three racing raises stored')
  })

  backendTest(kind, 'newest() pages alerts newest first, before a seq', async (t) => {
    const s = await store(t, 100)
    for (const e of [0, 1, 2, 3, 4].map((i) => alert(`a${i}`))) await s.append(e)
    const page = await s.newest(2)
    t.same(page.map((p) => p.alert.message), ['a4', 'a3'])
    const next = await s.newest(2, page.at(-1)?.seq)
    t.same(next.map((p) => p.alert.message), ['a2', 'a1'])
    t.same((await s.newest(10, next.at(-1)?.seq)).map((p) => p.alert.message), ['a0'])
  })

  backendTest(kind, 'newest() for a reader of unresolved alerts: every one of them, newest first, page by page (resolved ones only where the store keeps few)', async (t) => {
    const backend = await makeBackend(t, kind)
    const publisher = createPublisher(backend.store)
    const expected: string[] = []
    for (let i = 0; i < 30; i++) {
      const raised = await publisher.publish({ type: 'alert', message: `a${i}`, location: 'x' })
      if (i % 7 === 3) await publisher.act({ id: raised.id }, 'acknowledge', 'ana')
      if (i % 3 === 0 && i % 7 !== 3) await publisher.act({ id: raised.id }, 'resolve', 'ana')
      else expected.unshift(raised.id)
    }
    const got: string[] = []
    let before: number | undefined
    for (let reads = 0; reads < 30; reads++) {
      const page = await backend.store.newest(4, before, { unresolved: true })
      got.push(...page.filter((p) => p.alert.state !== 'resolved').map((p) => p.alert.id))
      if (page.length < 4) break
      before = page.at(-1)?.seq
    }
    t.same(got, expected, 'the unresolved alerts, none missed or twice')
    if (kind === 'sqlite') t.notOk((await backend.store.newest(100, undefined, { unresolved: true })).some((p) => p.alert.state === 'resolved'), 'SQLite reads the open ones alone')
  })

  backendTest(kind, 'an alert\'s timeline: its raising and every change, oldest first', async (t) => {
    const backend = await makeBackend(t, kind)
    const publisher = createPublisher(backend.store)
    const raised = await publisher.publish({ type: 'alert', message: 'disk', location: 'db1', key: 'disk' })
    await publisher.publish({ type: 'alert', message: 'other', location: 'db2' })
    await publisher.publish({ type: 'alert', message: 'disk again', location: 'db1', key: 'disk', severity: 'critical' })
    await publisher.act({ id: raised.id }, 'acknowledge', 'ana', 'looking')
    await publisher.publish({ type: 'chat', sender: 's', message: 'hi' })
    await publisher.act({ key: 'disk' }, 'resolve', 'bo', 'freed space')
    const timeline = await backend.store.timeline(raised.id)
    t.same(timeline.map((e) => e.type === 'alert_update' ? e.change : e.type), ['alert', 'repeated', 'acknowledged', 'resolved'])
    t.match(timeline[2], { by: 'ana', note: 'looking' })
    t.match(timeline[3], { by: 'bo', note: 'freed space', alert: { state: 'resolved', count: 2 } })
  })

  backendTest(kind, 'a claim is won by one caller until it expires', async (t) => {
    let now = 1_700_000_000_000
    const backend = await makeBackend(t, kind, { now: () => now })
    const { claims } = backend
    const first = await Promise.all([claims.claim('slot', 1000), claims.claim('slot', 1000)])
    t.same(first.sort(), [false, true], 'one of two at once')
    t.equal(await claims.claim('other', 1000), true, 'names are apart')
    if (kind !== 'redis') {
      // Redis expires claims by its own clock; the others by the injected one.
      now += 1001
      t.equal(await claims.claim('slot', 1000), true, 'free again once expired')
    }
  })

  const settings = { everyMs: 60_000, graceMs: 0, severity: 'critical' as const, location: 'l' }
  /** A success at `at` whose deadline is a minute later. */
  const success = (at: number, max = 1000): HeartbeatPingWrite => ({ ping: { at, kind: 'success' }, deadline: at + 60_000, max })

  backendTest(kind, 'heartbeat monitors: ping, get, list, one claim per miss, removal', async (t) => {
    const { heartbeats } = await makeBackend(t, kind)
    t.same(await heartbeats.list(), [])
    t.equal(await heartbeats.get('a'), undefined)
    t.same(await heartbeats.ping('b', settings, success(1000)), { monitor: { name: 'b', ...settings, lastPing: 1000, deadline: 61_000 }, wasMissed: false, ping: { at: 1000, kind: 'success' } })
    await heartbeats.ping('a', { ...settings, severity: 'info', location: 'Lisbon ✓' }, success(2000))
    t.same((await heartbeats.list()).map((m) => [m.name, m.lastPing, m.severity, m.location]), [['a', 2000, 'info', 'Lisbon ✓'], ['b', 1000, 'critical', 'l']])
    t.equal(await heartbeats.claimMiss('b', 999), false, 'not the last ping')
    const claims = await Promise.all(Array.from({ length: 20 }, async () => await heartbeats.claimMiss('b', 1000)))
    t.equal(claims.filter(Boolean).length, 1, 'exactly one claim of the miss')
    t.same(await heartbeats.get('b'), { name: 'b', ...settings, lastPing: 1000, missed: 1000, deadline: 61_000 })
    const next = await heartbeats.ping('b', settings, success(5000))
    t.equal(next.wasMissed, true, 'the ping ends the miss')
    t.equal((await heartbeats.get('b'))?.missed, undefined)
    t.equal((await heartbeats.ping('b', settings, success(6000))).wasMissed, false)
    t.equal(await heartbeats.claimMiss('b', 6000), true, 'a new ping can be missed again')
    t.same(await heartbeats.remove('b'), { name: 'b', ...settings, lastPing: 6000, missed: 6000, deadline: 66_000 })
    t.equal(await heartbeats.remove('b'), undefined)
    t.equal(await heartbeats.claimMiss('b', 6000), false, 'no monitor, no miss')
    t.same((await heartbeats.list()).map((m) => m.name), ['a'])
    t.same(await heartbeats.pings('b'), [], 'a removed monitor keeps no pings')
  })

  backendTest(kind, 'heartbeat monitors: schedules kept, runs timed from start to end, failures are misses, the last 100 pings kept', async (t) => {
    const { heartbeats } = await makeBackend(t, kind)
    const scheduled = { ...settings, schedule: '0 3 * * *', tz: 'Europe/Berlin' }
    await heartbeats.ping('job', scheduled, success(1000))
    t.match(await heartbeats.get('job'), { schedule: '0 3 * * *', tz: 'Europe/Berlin' })
    const started = await heartbeats.ping('job', scheduled, { ping: { at: 2000, kind: 'start', source: '10.0.0.1', userAgent: 'curl/8' }, deadline: 2500, max: 1000 })
    t.same(started.monitor, { name: 'job', ...scheduled, lastPing: 2000, deadline: 2500, startedAt: 2000 })
    t.same(started.ping, { at: 2000, kind: 'start', source: '10.0.0.1', userAgent: 'curl/8' })
    t.equal((await heartbeats.get('job'))?.startedAt, 2000)
    const ended = await heartbeats.ping('job', scheduled, success(2300))
    t.same(ended.ping, { at: 2300, kind: 'success', durationMs: 300 }, 'the success ends the run and says how long it took')
    t.equal((await heartbeats.get('job'))?.startedAt, undefined)

    await heartbeats.ping('job', scheduled, { ping: { at: 3000, kind: 'start' }, deadline: 3500, max: 1000 })
    const failed = await heartbeats.ping('job', scheduled, { ping: { at: 3100, kind: 'fail', exitStatus: 2 }, deadline: 63_100, max: 1000 })
    t.same(failed.ping, { at: 3100, kind: 'fail', exitStatus: 2, durationMs: 100 })
    t.equal(failed.wasMissed, false)
    t.equal(failed.monitor.missed, 3100, 'a failure is a miss at once')
    t.same(await heartbeats.due(1e15), [], 'a missed monitor is not due again')
    t.equal(await heartbeats.claimMiss('job', 3100), false, 'and its miss cannot be claimed again')
    const again = await heartbeats.ping('job', scheduled, { ping: { at: 3200, kind: 'fail' }, deadline: 63_200, max: 1000 })
    t.equal(again.wasMissed, true)
    t.equal(again.monitor.missed, 3100, 'a second failure keeps the first miss')
    const restart = await heartbeats.ping('job', scheduled, { ping: { at: 3300, kind: 'start' }, deadline: 3800, max: 1000 })
    t.equal(restart.monitor.missed, 3100, 'a start keeps the miss')
    t.equal((await heartbeats.ping('job', scheduled, success(3400))).wasMissed, true, 'a success ends it')

    for (let i = 0; i < 120; i++) await heartbeats.ping('many', settings, success(10_000 + i))
    const kept = await heartbeats.pings('many')
    t.equal(kept.length, 100, 'the last 100 pings')
    t.same([kept[0]?.at, kept[99]?.at], [10_119, 10_020], 'newest first, the oldest dropped')
    t.same((await heartbeats.pings('job')).map((p) => p.kind), ['success', 'start', 'fail', 'fail', 'start', 'success', 'start', 'success'])
  })

  backendTest(kind, 'heartbeat monitors: the due ones come from the deadline index, by deadline', async (t) => {
    const { heartbeats } = await makeBackend(t, kind)
    for (const [name, deadline] of [['c', 3000], ['a', 1000], ['b', 2000], ['d', 9000], ['e', 2000]] as const) {
      await heartbeats.ping(name, settings, { ping: { at: 10, kind: 'success' }, deadline, max: 1000 })
    }
    t.same(await heartbeats.due(999), [])
    t.same((await heartbeats.due(2000)).map((m) => m.name), ['a', 'b', 'e'], 'at or before now, earliest first')
    await heartbeats.ping('a', settings, { ping: { at: 20, kind: 'success' }, deadline: 5000, max: 1000 })
    t.equal(await heartbeats.claimMiss('b', 10), true)
    await heartbeats.remove('e')
    t.same((await heartbeats.due(5000)).map((m) => [m.name, m.deadline]), [['c', 3000], ['a', 5000]], 'moved, claimed and removed monitors follow')
    t.same((await heartbeats.due(1e15)).map((m) => m.name), ['c', 'a', 'd'])
  })

  backendTest(kind, 'heartbeat monitors: a new name past the cap is refused, at once for concurrent pings; known names still ping', async (t) => {
    const { heartbeats } = await makeBackend(t, kind)
    const results = await Promise.allSettled(Array.from({ length: 12 }, async (_, i) => await heartbeats.ping(`m${i}`, settings, success(1000, 5))))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 5, 'five of twelve concurrent new names')
    for (const r of results) if (r.status === 'rejected') t.type(r.reason, HeartbeatsFullError)
    t.equal((await heartbeats.list()).length, 5)
    const known = (await heartbeats.list())[0]?.name as string
    t.equal((await heartbeats.ping(known, settings, success(2000, 5))).monitor.lastPing, 2000, 'a known name pings past the cap')
    await t.rejects(heartbeats.ping('new', settings, success(2000, 5)), HeartbeatsFullError)
    t.equal(await heartbeats.get('new'), undefined, 'nothing stored')
    await heartbeats.remove(known)
    t.equal((await heartbeats.ping('new', settings, success(3000, 5))).monitor.name, 'new', 'room again once one is removed')
  })

  backendTest(kind, 'every appended event reaches the feed once, in publish order', async (t) => {
    const backend = await makeBackend(t, kind)
    const heard: string[] = []
    backend.feed.subscribe((event) => heard.push(names([event])[0] ?? ''))
    const events = [alert('a0'), chat('c0'), alert('a1')]
    await Promise.all(events.map(async (e) => await backend.store.append(e)))
    await backend.feed.caughtUp?.()
    t.same(heard, ['a0', 'c0', 'a1'])
  })

  backendTest(kind, 'heartbeat monitors: any sequence of pings, claims and removals leaves what a plain model says', async (t) => {
    type HbOp = { op: 'ping', name: string, kind: HeartbeatPingKind, deadline: number } | { op: 'claim' | 'remove', name: string }
    const hbName = fc.constantFrom('a', 'b', 'c')
    const hbOp: fc.Arbitrary<HbOp> = fc.oneof(
      fc.record({ op: fc.constant('ping' as const), name: hbName, kind: fc.constantFrom('success' as const, 'start' as const, 'fail' as const), deadline: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ op: fc.constantFrom('claim' as const, 'remove' as const), name: hbName })
    )
    await fc.assert(fc.asyncProperty(fc.array(hbOp, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 100 }), async (ops, now) => {
      await t.test('one run', async (tt) => {
        const { heartbeats } = await makeBackend(tt, kind)
        const model = new Map<string, { monitor: HeartbeatMonitor, pings: HeartbeatPing[] }>()
        for (const [i, op] of ops.entries()) {
          const at = 1000 + i
          if (op.op === 'ping') {
            const write = { ping: { at, kind: op.kind }, deadline: op.deadline, max: 2 }
            const known = model.get(op.name)
            if (known === undefined && model.size >= 2) {
              await tt.rejects(heartbeats.ping(op.name, settings, write), HeartbeatsFullError)
              continue
            }
            const applied = applyPing(known?.monitor, op.name, settings, write)
            tt.same(await heartbeats.ping(op.name, settings, write), applied, `ping ${i}`)
            model.set(op.name, { monitor: applied.monitor, pings: [applied.ping, ...(known?.pings ?? [])] })
          } else if (op.op === 'claim') {
            const monitor = model.get(op.name)?.monitor
            const expected = monitor !== undefined && monitor.missed === undefined
            tt.equal(await heartbeats.claimMiss(op.name, monitor?.lastPing ?? 0), expected, `claim ${i}`)
            if (expected && monitor !== undefined) monitor.missed = monitor.lastPing
          } else {
            tt.same(await heartbeats.remove(op.name), model.get(op.name)?.monitor, `remove ${i}`)
            model.delete(op.name)
          }
        }
        const sorted = [...model.values()].map((e) => e.monitor).sort((x, y) => x.name < y.name ? -1 : 1)
        tt.same(await heartbeats.list(), sorted, 'the list')
        const due = sorted.filter((m) => m.missed === undefined && m.deadline <= now).sort((x, y) => x.deadline - y.deadline || (x.name < y.name ? -1 : 1))
        tt.same(await heartbeats.due(now), due, 'the due ones')
        tt.same(await heartbeats.count(now), { total: sorted.length, missed: sorted.filter((m) => m.missed !== undefined || m.deadline <= now).length }, 'the counts')
        for (const [name, entry] of model) tt.same(await heartbeats.pings(name), entry.pings, `the pings of ${name}`)
      })
    }), { numRuns: kind === 'redis' ? 25 : 60 })
    t.pass('every run agreed')
  })

  backendTest(kind, 'replaying from any point yields exactly the state HTTP reads', async (t) => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(), async (ops, at) => {
      await t.test('one run', async (tt) => {
        await replayEqualsBoard(await makeBackend(tt, kind), ops, at % ops.length)
      })
    }), { numRuns: kind === 'redis' ? 25 : 60 })
    t.pass('every run agreed')
  })
}

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'a full board drops the oldest open info, then warning alert; never a critical or acknowledged one: the new alert is refused instead', async (t) => {
    const evicted: string[] = []
    const backend = await makeBackend(t, kind, { openAlertsMax: 3, onEvict: (ids) => evicted.push(...ids) })
    const publisher = createPublisher(backend.store)
    const raise = async (message: string, severity: 'info' | 'warning' | 'critical'): Promise<Alert> =>
      await publisher.publish({ type: 'alert', message, location: 'x', severity, key: message })
    const info = await raise('info', 'info')
    const acked = await raise('acked', 'warning')
    await publisher.act({ id: acked.id }, 'acknowledge', 'ana')
    await raise('crit1', 'critical')
    await raise('crit2', 'critical')
    t.same(evicted, [info.id], 'the open info alert went first')
    await t.rejects(raise('crit3', 'critical'), { name: 'BoardFullError', code: 'BOARD_FULL' }, 'only critical and acknowledged left: refused')
    t.same((await backend.store.alerts({ unresolved: true })).map((s) => s.alert.message).sort(), ['acked', 'crit1', 'crit2'], 'nothing dropped, nothing added')
    t.match(await raise('crit1', 'critical'), { message: 'crit1', count: 2 }, 'a repeat of an alert on the board still counts')
    await publisher.act({ key: 'crit2' }, 'resolve', 'ana')
    t.match(await raise('crit3', 'critical'), { message: 'crit3' }, 'room again once one is resolved')
  })
}

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'at the cap, a new alert less severe than every open one that may go is refused (full), not stored and dropped; one as severe drops the oldest of its kind, a more severe one the least severe', async (t) => {
    const evicted: string[] = []
    const backend = await makeBackend(t, kind, { openAlertsMax: 2, onEvict: (ids) => evicted.push(...ids) })
    const publisher = createPublisher(backend.store)
    const raise = async (message: string, severity: Severity): Promise<Alert> =>
      await publisher.publish({ type: 'alert', message, location: 'x', severity })
    const w1 = await raise('w1', 'warning')
    const w2 = await raise('w2', 'warning')
    const before = (await backend.store.since()).events.length
    await t.rejects(raise('info', 'info'), { name: 'BoardFullError' }, 'an info alert would be the one to go: refused')
    t.same(evicted, [], 'nothing dropped')
    t.equal((await backend.store.since()).events.length, before, 'nothing stored')
    await raise('w3', 'warning')
    t.same(evicted, [w1.id], 'a warning drops the oldest warning')
    await raise('c1', 'critical')
    t.same(evicted, [w1.id, w2.id], 'a critical alert drops the oldest warning too')
    t.same((await backend.store.alerts({ unresolved: true })).map((s) => s.alert.message), ['w3', 'c1'])
    await raise('c2', 'critical')
    await t.rejects(raise('w4', 'warning'), { name: 'BoardFullError' }, 'only critical ones left: a warning is refused')
    await t.rejects(raise('c3', 'critical'), { name: 'BoardFullError' }, 'and a critical one')
  })
}

// The outbox and the silences: the same behaviours on every backend.
const T0 = 1_700_000_000_000

/**
 * Routes every appended event to these receivers, each entry with the id
 * `<receiver>:<event id>` (a backend may ask the router again about one
 * event); resolves with the events asked about.
 */
function routed (backend: Backend, receivers: string[]): Event[] {
  const asked: Event[] = []
  backend.outbox.route((event): OutboxDraft[] => {
    asked.push(event)
    return receivers.map((receiver) => ({ id: `${receiver}:${event.id}`, receiver, kind: event.type === 'alert' ? 'raised' : 'acknowledged' }))
  })
  return asked
}

const attempt = (id: string, alertId: string, receiver: string, n: number, at: number, result: DeliveryAttempt['result'], extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt =>
  ({ deliveryId: id, alertId, eventId: alertId, receiver, kind: 'raised', attempt: n, at, result, ...extra })

const silence = (id: string, startsAt: number, extra: Partial<Silence> = {}): Silence =>
  ({ id, match: { location: 'db1' }, startsAt, endsAt: startsAt + 60_000, comment: 'maintenance', by: 'ana', createdAt: startsAt, ...extra })

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'outbox: an appended event writes its entries in the same step; a refused one writes none; claim, lease, settle, release, recent, attempts, depth', async (t) => {
    let now = T0
    const backend = await makeBackend(t, kind, { now: () => now })
    const { outbox } = backend
    const asked = routed(backend, ['hook', 'chat'])
    const raised = stamp({ type: 'alert', message: 'disk full', location: 'db1', key: 'disk' }, () => now)
    t.same(await backend.store.append(raised, { kind: 'key-free', key: 'disk' }), { stored: true })
    const d1 = `hook:${raised.id}`
    const d2 = `chat:${raised.id}`
    // The key is taken now: this append is refused, and writes no entry.
    const second = stamp({ type: 'alert', message: 'disk full', location: 'db1', key: 'disk' }, () => now)
    t.same(await backend.store.append(second, { kind: 'key-free', key: 'disk' }), { stored: false })
    t.ok(asked.length >= 1 && asked.every((e) => e.id === raised.id || e.id === second.id), 'the router is asked about appended events')
    t.same(await outbox.depth(), { pending: 2, oldestAt: T0 })
    t.same((await outbox.dueReceivers(now)).sort(), ['chat', 'hook'])

    const claimed = await outbox.claim('hook', now, 30_000, 10)
    t.equal(claimed.length, 1)
    t.match(claimed[0], { id: d1, receiver: 'hook', kind: 'raised', alertId: raised.id, status: 'pending', attempts: 0, event: { id: raised.id } })
    t.same(await outbox.claim('hook', now, 30_000, 10), [], 'a claimed entry is held for its lease')
    t.same(await outbox.dueReceivers(now), ['chat'])
    now += 30_000
    t.same((await outbox.claim('hook', now, 30_000, 10)).map((e) => e.id), [d1], 'and due again once the lease ends (a sender that died)')

    await outbox.settle(d1, { attempt: attempt(d1, raised.id, 'hook', 1, now, 'retrying', { status: 500, error: 'answered HTTP 500' }), retryAt: now + 2000 })
    t.same(await outbox.claim('hook', now + 1999, 30_000, 10), [])
    const retried = await outbox.claim('hook', now + 2000, 30_000, 10)
    t.match(retried, [{ id: d1, attempts: 1, lastStatus: 500, lastError: 'answered HTTP 500' }])
    await outbox.settle(d1, { attempt: attempt(d1, raised.id, 'hook', 2, now + 2100, 'delivered', { status: 200 }) })
    t.same(await outbox.depth(), { pending: 1, oldestAt: T0 })
    const recent = await outbox.recent({ limit: 10 })
    t.match(recent, [{ id: d2, status: 'pending' }, { id: d1, status: 'delivered', attempts: 2, lastStatus: 200, lastAt: now + 2100 }])
    t.notOk('lastError' in (recent[1] ?? {}), 'a later attempt without an error clears it')
    t.equal(recent[1]?.due, undefined, 'a finished entry is due no more')
    t.same(recent[0]?.event, raised, 'the event as stored')
    t.match(await outbox.recent({ receiver: 'hook', limit: 10 }), [{ id: d1 }])
    t.same((await outbox.recent({ status: 'delivered', limit: 10 })).map((e) => e.id), [d1])
    t.same((await outbox.recent({ status: 'failed', limit: 10 })).length, 0)
    t.same((await outbox.recent({ limit: 1 })).map((e) => e.id), [d2], 'up to the limit')
    t.match(await outbox.attempts(raised.id), [{ attempt: 1, result: 'retrying', status: 500 }, { attempt: 2, result: 'delivered', status: 200 }])
    t.same(await outbox.attempts('nothing'), [])

    const chat = await outbox.claim('chat', now, 30_000, 10)
    await outbox.release(chat[0]?.id ?? '', now)
    t.same((await outbox.claim('chat', now, 30_000, 10)).map((e) => e.attempts), [0], 'a released entry is due again, no attempt counted')
    await outbox.settle(d2, { attempt: attempt(d2, raised.id, 'chat', 1, now, 'failed', { error: 'gave up' }) })
    await outbox.release(d2, now)
    t.same(await outbox.depth(), { pending: 0 }, 'a finished entry is not given back')
    t.same(await outbox.dueReceivers(now + 1e9), [])
    t.same((await outbox.recent({ status: 'failed', limit: 10 })).map((e) => e.id), [d2])
    await outbox.settle('gone', { attempt: attempt('gone', raised.id, 'chat', 1, now, 'failed') })
    t.equal((await outbox.attempts(raised.id)).length, 4, 'an attempt at an entry no longer kept is still recorded')
  })

  backendTest(kind, 'outbox: an idempotent replay and a chat message write no entries; enqueue writes entries about an event not appended', async (t) => {
    const backend = await makeBackend(t, kind, { now: () => T0 })
    backend.outbox.route((event) => event.type === 'chat' ? [] : [{ id: `d-${event.id}`, receiver: 'hook', kind: 'raised' }])
    const raised = stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0)
    await backend.store.append(raised, undefined, { key: 'k', ttlMs: 60_000 })
    t.same(await backend.store.append(stamp({ type: 'alert', message: 'm', location: 'l' }, () => T0), undefined, { key: 'k', ttlMs: 60_000 }), { stored: false, prior: raised })
    await backend.store.append(chat('hello'))
    t.same(await backend.outbox.depth(), { pending: 1, oldestAt: T0 })
    await backend.outbox.enqueue(raised, [{ id: 'reminded', receiver: 'pager', kind: 'reminder' }])
    await backend.outbox.enqueue(raised, [])
    t.match(await backend.outbox.claim('pager', T0, 1000, 10), [{ id: 'reminded', kind: 'reminder', alertId: raised.id, event: raised, createdAt: T0 }])
    t.same(await backend.outbox.depth(), { pending: 2, oldestAt: T0 })
  })

  backendTest(kind, 'outbox: a grouped entry is due when its window ends; claimGroup takes the receiver\'s grouped ones never tried, due or not', async (t) => {
    let now = T0
    const backend = await makeBackend(t, kind, { now: () => now })
    const { outbox } = backend
    let n = 0
    outbox.route(() => { n++; return [{ id: `g-${n}`, receiver: 'hook', kind: 'raised', groupMs: 30_000 }, { id: `s-${n}`, receiver: 'solo', kind: 'raised' }] })
    await backend.store.append(stamp({ type: 'alert', message: 'a', location: 'l' }, () => now))
    now += 10_000
    await backend.store.append(stamp({ type: 'alert', message: 'b', location: 'l' }, () => now))
    t.same(await outbox.dueReceivers(now), ['solo'], 'the grouped ones wait for their window')
    now = T0 + 30_000
    t.same((await outbox.dueReceivers(now)).sort(), ['hook', 'solo'])
    t.match(await outbox.claim('hook', now, 40_000, 10), [{ id: 'g-1', groupMs: 30_000 }], 'only the first is due')
    // The claimed first may come back too (the sender leaves it out); a cluster's backend skips what a claim holds.
    t.same((await outbox.claimGroup('hook', now, 40_000, 50)).map((e) => e.id).filter((id) => id !== 'g-1'), ['g-2'], 'the one not due yet goes with it')
    t.same(await outbox.claim('hook', now + 39_999, 40_000, 10), [], 'all held')
    t.same(await outbox.claimGroup('solo', now, 40_000, 50), [], 'only grouped entries')
    await outbox.settle('g-2', { attempt: attempt('g-2', '', 'hook', 1, now, 'retrying'), retryAt: now + 1000 })
    t.same((await outbox.claimGroup('hook', now + 80_000, 40_000, 50)).map((e) => e.id), ['g-1'], 'one tried is no longer the rest of a group')
    t.same(await outbox.claimGroup('hook', now, 40_000, 0), [], 'a limit of none takes none')
  })

  backendTest(kind, 'silences: added, listed by start, removed once', async (t) => {
    const { silences } = await makeBackend(t, kind)
    t.same(await silences.list(), [])
    await silences.add(silence('b', T0 + 1000, { match: { severity: 'critical', tag: 'db,web' } }))
    await silences.add(silence('a', T0))
    await silences.add(silence('c', T0 + 1000, { comment: 'Lisbon ✓' }))
    t.same((await silences.list()).map((s) => s.id), ['a', 'b', 'c'])
    t.same((await silences.list())[1], silence('b', T0 + 1000, { match: { severity: 'critical', tag: 'db,web' } }), 'kept as given')
    const removed = await Promise.all([silences.remove('b'), silences.remove('b')])
    t.same(removed.filter((s) => s !== undefined).map((s) => s?.id), ['b'], 'of two removals at once, one gets it')
    t.equal(await silences.remove('nothing'), undefined)
    t.same((await silences.list()).map((s) => s.id), ['a', 'c'])
  })
}
