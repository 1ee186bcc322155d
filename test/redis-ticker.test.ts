import t, { type Test } from 'tap'
import pino from 'pino'
import type { Redis } from 'ioredis'
import type { Clock } from '@tapjs/clock'
import { mockTimers } from './helpers/clock'
import { Client } from './helpers/ws-client'
import { createTicker } from '../plugins/core/ticker'
import { stamp } from '../plugins/core/publisher'
import { getJson } from './helpers/http'
import { cluster, redisClient, redisEnv, redisTest, type Instance } from './helpers/redis'

// The instances share one mock clock, as the instances of a cluster share the
// wall clock: every advance of an interval is one slot that all three claim.
const INTERVAL = 10_000

/** Slot → the instance that claimed it, for the claims still alive. */
async function claims (admin: Redis, prefix: string): Promise<Map<number, string>> {
  const keys = await admin.keys(`${prefix}claim:ticker:*`)
  const out = new Map<number, string>()
  for (const key of keys) {
    const owner = await admin.get(key)
    if (owner !== null) out.set(Number(key.slice(`${prefix}claim:ticker:`.length)), owner)
  }
  return out
}

/** Moves the clock one interval on and returns the one alert each client then receives, checking they are the same. */
async function tick (t: Test, clock: Clock, clients: Client[]): Promise<Record<string, unknown>> {
  clock.advance(INTERVAL)
  const frames = await Promise.all(clients.map(async (client) => await client.next()))
  const [first] = frames as [Record<string, unknown>]
  t.ok(frames.every((frame) => frame.id === first.id), 'every client got the same alert')
  return first
}

redisTest('three instances publish one automatic alert per interval between them', async (t) => {
  const { clock, timers } = mockTimers()
  const env = redisEnv(t, { ALERT_INTERVAL_MS: INTERVAL, HISTORY_SIZE: 100, REPLAY_WINDOW: 100 })
  const nodes = await cluster(t, 3, env, { timers })
  // Alerts only: each tick also resolves the previous tick's alert (an alert_update).
  const clients = await Promise.all(nodes.map(async (node) => await Client.open(`${node.wsUrl}/ws?types=alert`, t)))

  const alerts: Array<Record<string, unknown>> = []
  for (let i = 0; i < 5; i++) alerts.push(await tick(t, clock, clients))
  t.ok(alerts.every((a) => a.type === 'alert' && a.message === 'Intruder detected'))
  t.equal(new Set(alerts.map((a) => a.id)).size, 5, 'five intervals, five alerts')

  // An alert from more than one instance would be in the history and on the sockets too.
  const history = await getJson(`${nodes[1]?.url as string}/alerts/history`) as { alerts: Array<{ id: string }> }
  t.same(history.alerts.map((a) => a.id), alerts.map((a) => a.id))
  t.same(clients.map((client) => client.pending), [0, 0, 0], 'nothing else was sent')
  // Each tick resolved the previous one, whichever instance had raised it.
  const board = await getJson(`${nodes[2]?.url as string}/alerts?state=open,acknowledged`) as { alerts: Array<{ id: string }> }
  t.same(board.alerts.map((a) => a.id), [alerts[4]?.id], 'one automatic alert open in the cluster: the last')
})

redisTest('when the instance that produced the alerts goes, the others carry on, one alert per interval', async (t) => {
  const { clock, timers } = mockTimers()
  const admin = redisClient(t)
  const env = redisEnv(t, { ALERT_INTERVAL_MS: INTERVAL })
  const prefix = String(env.REDIS_KEY_PREFIX)
  const nodes = await cluster(t, 3, env, { timers })
  // Alerts only: each tick also resolves the previous tick's alert (an alert_update).
  const clients = await Promise.all(nodes.map(async (node) => await Client.open(`${node.wsUrl}/ws?types=alert`, t)))
  await tick(t, clock, clients)

  // The claim of the newest slot names the instance that published its alert.
  const before = await claims(admin, prefix)
  const newest = Math.max(...before.keys())
  const producer = nodes.find((node) => node.redis.instance === before.get(newest)) as Instance
  t.ok(producer, 'the producer is one of the three')
  await producer.fastify.close()

  const survivors = clients.filter((_, i) => nodes[i] !== producer)
  const alerts: Array<Record<string, unknown>> = []
  for (let i = 0; i < 5; i++) alerts.push(await tick(t, clock, survivors))
  t.equal(new Set(alerts.map((a) => a.id)).size, 5, 'five intervals, five alerts without it')

  const after = [...(await claims(admin, prefix)).entries()].filter(([slot]) => slot > newest)
  t.equal(after.length, 5, 'every later slot was claimed')
  for (const [slot, owner] of after) t.not(owner, producer.redis.instance, `slot ${slot} went to a survivor`)
  t.same(survivors.map((client) => client.pending), [0, 0], 'nothing else was sent')
})

t.test('the ticker publishes only the slots whose claim it wins', async (t) => {
  const { clock, timers } = mockTimers()
  const asked: number[] = []
  let published = 0
  const ticker = createTicker({
    intervalMs: 10,
    message: 'm',
    location: 'l',
    publisher: { publish: async (draft) => { published++; return stamp(draft) } },
    log: pino({ level: 'silent' }),
    claim: async (slot) => {
      asked.push(slot)
      return slot % 2 === 0
    },
    timers
  })
  t.teardown(() => ticker.stop())
  ticker.start()
  for (let i = 0; i < 8; i++) clock.advance(10)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(asked.length, 8)
  t.equal(published, 4, 'one alert per slot won, none for the others')
})
