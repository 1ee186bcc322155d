import t from 'tap'
import pino from 'pino'
import type { Redis } from 'ioredis'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { createTicker } from '../plugins/core/ticker'
import { stamp } from '../plugins/core/publisher'
import { getJson } from './helpers/http'
import { cluster, redisClient, redisEnv, redisTest, type Instance } from './helpers/redis'

const INTERVAL = 100
// Ten intervals hold ten slots: one alert each. Timers running late (the three
// instances share one event loop here) may shift one alert out of the window
// or skip a few slots; an alert from every instance would make about thirty.
const WINDOW = 10 * INTERVAL
const AT_MOST = 11
const AT_LEAST = 5

/** Every frame a client receives during `ms`. */
async function during (client: Client, ms: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = []
  const deadline = Date.now() + ms
  for (let left = ms; left > 0; left = deadline - Date.now()) {
    try {
      out.push(await client.next(left))
    } catch {
      break
    }
  }
  return out
}

/** Frames already received and not taken. */
async function drain (client: Client): Promise<void> {
  while (client.pending > 0) await client.next()
}

/** Slot → the instance that claimed it, for the claims still alive (two intervals). */
async function claims (admin: Redis, prefix: string): Promise<Map<number, string>> {
  const keys = await admin.keys(`${prefix}claim:ticker:*`)
  const out = new Map<number, string>()
  for (const key of keys) {
    const owner = await admin.get(key)
    if (owner !== null) out.set(Number(key.slice(`${prefix}claim:ticker:`.length)), owner)
  }
  return out
}

redisTest('three instances publish one automatic alert per interval between them', async (t) => {
  const env = redisEnv(t, { ALERT_INTERVAL_MS: INTERVAL, HISTORY_SIZE: 100 })
  const nodes = await cluster(t, 3, env)
  const clients = await Promise.all(nodes.map(async (node) => await Client.open(`${node.wsUrl}/ws`, t)))
  // Start every client's count at the same point.
  await Promise.all(clients.map(async (client) => await client.next()))
  await Promise.all(clients.map(drain))

  const alerts = await during(clients[0] as Client, WINDOW)
  t.ok(alerts.length <= AT_MOST && alerts.length >= AT_LEAST, `${alerts.length} alerts in ${WINDOW / INTERVAL} intervals`)
  t.ok(alerts.every((a) => a.type === 'alert' && a.message === 'Intruder detected'))
  t.equal(new Set(alerts.map((a) => a.id)).size, alerts.length, 'no alert twice')

  // Each instance's clients saw the same alerts, and the history holds them.
  const last = alerts.at(-1)
  for (const client of clients.slice(1)) {
    const seen: Array<Record<string, unknown>> = []
    while (seen.at(-1)?.id !== last?.id) seen.push(await client.next())
    t.same(seen.slice(-alerts.length).map((a) => a.id), alerts.map((a) => a.id))
  }
  const history = await getJson(`${nodes[1]?.url as string}/alerts/history`) as { alerts: Array<{ id: string }> }
  const ids = history.alerts.map((a) => a.id)
  t.same(ids.slice(ids.indexOf(alerts[0]?.id as string)).slice(0, alerts.length), alerts.map((a) => a.id))
})

redisTest('when the instance that produced the alerts goes, the others carry on, one alert per interval', async (t) => {
  const admin = redisClient(t)
  const env = redisEnv(t, { ALERT_INTERVAL_MS: INTERVAL })
  const prefix = String(env.REDIS_KEY_PREFIX)
  const nodes = await cluster(t, 3, env)
  const clients = await Promise.all(nodes.map(async (node) => await Client.open(`${node.wsUrl}/ws`, t)))
  await clients[0]?.next()

  // The claim of the newest slot names the instance that published its alert.
  const before = await claims(admin, prefix)
  const newest = Math.max(...before.keys())
  const producer = nodes.find((node) => node.redis.instance === before.get(newest)) as Instance
  t.ok(producer, 'the producer is one of the three')
  await producer.fastify.close()
  const closedAt = Math.floor(Date.now() / INTERVAL)

  const survivor = clients[nodes.findIndex((node) => node !== producer)] as Client
  await drain(survivor)
  const alerts = await during(survivor, WINDOW)
  t.ok(alerts.length <= AT_MOST && alerts.length >= AT_LEAST, `${alerts.length} alerts in ${WINDOW / INTERVAL} intervals without it`)
  t.equal(new Set(alerts.map((a) => a.id)).size, alerts.length, 'no alert twice')

  const after = [...(await claims(admin, prefix)).entries()].filter(([slot]) => slot > closedAt)
  t.ok(after.length > 0, 'slots are still claimed')
  for (const [slot, owner] of after) t.not(owner, producer.redis.instance, `slot ${slot} went to a survivor`)
})

t.test('the ticker claims consecutive wall-clock slots and publishes only those it gets', async (t) => {
  const asked: Array<{ slot: number, at: number }> = []
  let published = 0
  const ticker = createTicker({
    intervalMs: 10,
    message: 'm',
    location: 'l',
    publisher: { publish: async (draft) => { published++; return stamp(draft) } },
    log: pino({ level: 'silent' }),
    claim: async (slot) => {
      asked.push({ slot, at: Date.now() })
      return slot % 2 === 0
    }
  })
  t.teardown(() => ticker.stop())
  ticker.start()
  await waitFor(() => asked.length >= 8)
  ticker.stop()
  const slots = asked.map((a) => a.slot)
  t.ok(slots.every((slot, i) => i === 0 || slot > (slots[i - 1] as number)), 'never the same slot twice')
  // Timers may fire a few ms early or late by the wall clock; the slot is still the clock's.
  t.ok(asked.every(({ slot, at }) => Math.abs(slot * 10 - at) < 1000), 'slots are the wall clock divided by the interval')
  await waitFor(() => published >= slots.filter((slot) => slot % 2 === 0).length)
  t.equal(published, slots.filter((slot) => slot % 2 === 0).length, 'one alert per slot won, none for the others')
})
