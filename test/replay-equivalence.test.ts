import t, { type Test } from 'tap'
import fc from 'fast-check'
import pino from 'pino'
import type { Alert, Event } from '../schemas/events'
import type { Backend } from '../plugins/core/backend'
import { createMemoryBackend } from '../plugins/core/memory-backend'
import { createRedisBackend } from '../plugins/core/redis-backend'
import { createPublisher } from '../plugins/core/publisher'
import { SHARED_REDIS_URL, redisPrefix, redisTest } from './helpers/redis'

type Op =
  | { op: 'raise', key?: string, severity: 'info' | 'warning' | 'critical' }
  | { op: 'ack' | 'resolve', pick: number }
  | { op: 'resolveKey', key: string }
  | { op: 'chat' }

const keys = ['a', 'b', 'c']
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('raise' as const), key: fc.option(fc.constantFrom(...keys), { nil: undefined }), severity: fc.constantFrom('info' as const, 'warning' as const, 'critical' as const) }),
  fc.record({ op: fc.constantFrom('ack' as const, 'resolve' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('resolveKey' as const), key: fc.constantFrom(...keys) }),
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

async function check (backend: Backend, ops: Op[], reconnectAt: number): Promise<void> {
  const seen: Event[] = []
  backend.feed.subscribe((event) => seen.push(event))
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
  // The client saw everything up to lastSeenId live, then reconnects with ?since=lastSeenId.
  const all = (await backend.store.since()).events
  const cut = lastSeenId === undefined ? 0 : all.findIndex((e) => e.id === lastSeenId) + 1
  const client = fold(new Map(), all.slice(0, cut))
  const replay = await backend.store.since(lastSeenId)
  if (!replay.found) throw new Error('the replay point should be retained')
  fold(client, replay.events)
  const http = await backend.store.alerts()
  for (const { alert } of http) {
    if (JSON.stringify(client.get(alert.id)) !== JSON.stringify(alert)) {
      throw new Error(`replayed ${JSON.stringify(client.get(alert.id))} but HTTP reads ${JSON.stringify(alert)}`)
    }
  }
}

const kinds: Array<[string, (t: Test) => Promise<Backend>]> = [
  ['memory', async () => createMemoryBackend({ historySize: 1000 })],
  ['redis', async (t) => {
    const backend = createRedisBackend({ url: SHARED_REDIS_URL, prefix: redisPrefix(t), historySize: 1000, log: pino({ level: 'silent' }) })
    t.teardown(async () => await backend.close())
    await backend.settled()
    return backend
  }]
]

for (const [kind, make] of kinds) {
  const test = kind === 'redis' ? redisTest : (name: string, fn: (t: Test) => Promise<void>) => { void t.test(name, fn) }
  test(`${kind}: replaying from any point yields exactly the state HTTP reads`, async (t) => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(), async (ops, at) => {
      await t.test('one run', async (tt) => {
        await check(await make(tt), ops, at % ops.length)
      })
    }), { numRuns: kind === 'redis' ? 25 : 100 })
    t.pass('every run agreed')
  })
}
