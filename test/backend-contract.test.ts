/**
 * The backend contract: every behaviour of the seam (plugins/core/backend.ts),
 * run on memory, SQLite and Redis alike. A backend is proven by this suite.
 */
import fc from 'fast-check'
import type { Alert, Event } from '../schemas/events'
import type { Backend, EventStore, Replay } from '../plugins/core/backend'
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

  backendTest(kind, 'heartbeat monitors: ping, get, list, one claim per miss, removal', async (t) => {
    const { heartbeats } = await makeBackend(t, kind)
    const settings = { everyMs: 60_000, graceMs: 0, severity: 'critical' as const, location: 'l' }
    t.same(await heartbeats.list(), [])
    t.equal(await heartbeats.get('a'), undefined)
    t.same(await heartbeats.ping('b', settings, 1000), { monitor: { name: 'b', ...settings, lastPing: 1000 }, wasMissed: false })
    await heartbeats.ping('a', { ...settings, severity: 'info', location: 'Lisbon ✓' }, 2000)
    t.same((await heartbeats.list()).map((m) => [m.name, m.lastPing, m.severity, m.location]), [['a', 2000, 'info', 'Lisbon ✓'], ['b', 1000, 'critical', 'l']])
    t.equal(await heartbeats.claimMiss('b', 999), false, 'not the last ping')
    const claims = await Promise.all(Array.from({ length: 20 }, async () => await heartbeats.claimMiss('b', 1000)))
    t.equal(claims.filter(Boolean).length, 1, 'exactly one claim of the miss')
    t.same(await heartbeats.get('b'), { name: 'b', ...settings, lastPing: 1000, missed: 1000 })
    const next = await heartbeats.ping('b', settings, 5000)
    t.equal(next.wasMissed, true, 'the ping ends the miss')
    t.equal((await heartbeats.get('b'))?.missed, undefined)
    t.equal((await heartbeats.ping('b', settings, 6000)).wasMissed, false)
    t.equal(await heartbeats.claimMiss('b', 6000), true, 'a new ping can be missed again')
    t.same(await heartbeats.remove('b'), { name: 'b', ...settings, lastPing: 6000, missed: 6000 })
    t.equal(await heartbeats.remove('b'), undefined)
    t.equal(await heartbeats.claimMiss('b', 6000), false, 'no monitor, no miss')
    t.same((await heartbeats.list()).map((m) => m.name), ['a'])
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
