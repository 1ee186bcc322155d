/**
 * Notifications on a cluster: two instances of the app on one Redis (and one
 * key prefix per test), a real HTTP receiver on loopback. Each notification
 * leaves once, whichever instance published its event; a notification an
 * instance claimed before it died is sent by the other once the claim's lease
 * ends; a silence made on one instance holds on the other.
 */
import type { Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mockTimers } from './helpers/clock'
import { postAlert } from './helpers/http'
import { httpReceiver, type Received } from './helpers/receivers'
import { cluster, instance, redisEnv, redisTest, type Instance } from './helpers/redis'
import { waitFor } from './helpers/wait'

type Json = Record<string, any>

function notifyFile (t: Test, text: string): string {
  const own = mkdtempSync(join(tmpdir(), 'alert-notify-'))
  t.teardown(() => rmSync(own, { recursive: true, force: true }))
  const file = join(own, 'notify.yml')
  writeFileSync(file, text)
  return file
}

const hookFile = (t: Test, url: string): string =>
  notifyFile(t, `receivers: { hook: { webhook: { url: "${url}" } } }\nroutes: [{ to: [hook] }]\n`)

const bodyOf = (request: Received): Json => JSON.parse(request.body) as Json

/** Resolves once no instance has anything in flight and the outbox holds nothing pending. */
async function settled (nodes: Instance[]): Promise<void> {
  await waitFor(async () => {
    for (const node of nodes) await node.fastify.notifications.sender.idle()
    return (await nodes[0]?.fastify.notifications.outbox.depth())?.pending === 0
  })
  for (const node of nodes) await node.fastify.notifications.sender.idle()
}

redisTest('two instances: each notification is delivered exactly once, whichever instance published it', async (t) => {
  const hook = await httpReceiver(t)
  const nodes = await cluster(t, 2, redisEnv(t, { NOTIFY_FILE: hookFile(t, hook.url) }))
  const [a, b] = nodes as [Instance, Instance]
  const raised: string[] = []
  // Both instances hear of every event, and both senders look at the outbox each time.
  for (let i = 0; i < 20; i++) {
    const node = i % 2 === 0 ? a : b
    raised.push((await postAlert(node.fastify, { message: `m${i}`, location: 'l' })).json().id as string)
  }
  await waitFor(() => hook.requests.length >= 20)
  await settled(nodes)
  t.equal(hook.requests.length, 20, 'no notification twice')
  const ids = hook.requests.map((r) => bodyOf(r).deliveryId as string)
  t.equal(new Set(ids).size, 20)
  t.same(hook.requests.map((r) => bodyOf(r).alert.id as string).sort(), [...raised].sort(), 'each alert once')
  const seen = (await b.fastify.inject('/notifications?status=delivered&limit=50')).json()
  t.match(seen, { count: 20, pending: 0 }, 'either instance lists them')
  const timeline = (await a.fastify.inject(`/alerts/${raised[1] as string}/timeline`)).json().timeline as Json[]
  t.equal(timeline.filter((e) => e.kind === 'notified').length, 1, 'one attempt on the alert\'s timeline, read on the other instance')
})

redisTest('an instance that claimed a notification and died: the other sends it once the claim\'s lease ends', async (t) => {
  const { clock, timers } = mockTimers()
  // The first request is never answered: the instance that sent it dies meanwhile.
  const hook = await httpReceiver(t, (n) => n === 1 ? 'hang' : 200)
  const env = redisEnv(t, { NOTIFY_FILE: hookFile(t, hook.url), NOTIFY_TIMEOUT_MS: 5000 })
  const a = await instance(t, env, { timers })
  const alert = (await postAlert(a.fastify, { message: 'disk full', location: 'db1' })).json()
  const first = await hook.inbox.next()
  // It dies: Redis no longer hears from it, so the claim it holds is not given back.
  a.redis.command.disconnect()
  await a.fastify.close()

  const b = await instance(t, env, { timers })
  await b.fastify.notifications.sender.idle()
  t.match((await b.fastify.inject('/notifications')).json(), { pending: 1, deliveries: [{ status: 'pending', attempts: 0 }] }, 'held by the dead instance\'s claim')
  clock.advance(1000)
  await b.fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 1, 'not sent again while the lease runs')
  // The lease: the attempt's timeout and a margin of 30 s.
  clock.advance(5000 + 30_000)
  const second = await hook.inbox.next()
  await settled([b])
  t.equal(bodyOf(second).deliveryId, bodyOf(first).deliveryId, 'the same delivery, so the receiver can tell')
  t.equal(bodyOf(second).alert.id, alert.id)
  t.match((await b.fastify.inject('/notifications')).json(), { pending: 0, deliveries: [{ status: 'delivered', attempts: 1 }] })
  t.equal(hook.requests.length, 2)
})

redisTest('a silence made on one instance holds on the other; ended on the other, the alert it held is notified once', async (t) => {
  const hook = await httpReceiver(t)
  const nodes = await cluster(t, 2, redisEnv(t, { NOTIFY_FILE: hookFile(t, hook.url) }))
  const [a, b] = nodes as [Instance, Instance]
  const made = await a.fastify.inject({ method: 'POST', url: '/silences', payload: { match: { location: 'db1' }, duration: '1h', comment: 'maintenance', by: 'ana' } })
  t.equal(made.statusCode, 201)
  const silenceId = made.json().id as string
  const held = (await postAlert(b.fastify, { message: 'disk full', location: 'db1' })).json()
  const loud = (await postAlert(b.fastify, { message: 'cpu hot', location: 'web1' })).json()
  t.same((await b.fastify.inject('/silences')).json().silences.map((s: Json) => s.id), [silenceId], 'the other instance lists it')
  await waitFor(() => hook.requests.length >= 1)
  await settled(nodes)
  t.same(hook.requests.map((r) => bodyOf(r).alert.id), [loud.id], 'the silenced alert notified nobody')
  t.same((await b.fastify.inject('/alerts')).json().silenced, { [held.id as string]: silenceId }, 'the board of the other instance marks it')

  const ended = await b.fastify.inject({ method: 'DELETE', url: `/silences/${silenceId}` })
  t.equal(ended.statusCode, 200)
  t.equal((await a.fastify.inject({ method: 'DELETE', url: `/silences/${silenceId}` })).statusCode, 404, 'ended once across the cluster')
  await waitFor(() => hook.requests.length >= 2)
  await settled(nodes)
  t.same(hook.requests.map((r) => bodyOf(r).alert.id), [loud.id, held.id], 'the alert it held, once')
  const after = (await postAlert(a.fastify, { message: 'disk full again', location: 'db1', key: 'other' })).json()
  await waitFor(() => hook.requests.length >= 3)
  t.equal(bodyOf(hook.requests[2] as Received).alert.id, after.id, 'no longer silenced on the instance that made it')
})

redisTest('two instances: a route\'s reminder goes once, not once per instance', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook], on: [raised], repeat: 1h }]\n`)
  const env = redisEnv(t, { NOTIFY_FILE: file })
  const nodes = [await instance(t, env, { timers }), await instance(t, env, { timers })]
  const [a] = nodes as [Instance]
  const alert = (await postAlert(a.fastify, { message: 'still down', location: 'x' })).json()
  await hook.inbox.next()
  await settled(nodes)
  // Both instances look for reminders at the hour.
  clock.advance(3_600_000)
  t.match(bodyOf(await hook.inbox.next()), { event: 'reminder', alert: { id: alert.id } })
  await settled(nodes)
  clock.advance(1000)
  await settled(nodes)
  t.same(hook.requests.map((r) => bodyOf(r).event), ['raised', 'reminder'], 'one reminder for the cluster')
  clock.advance(3_600_000)
  await hook.inbox.next()
  await settled(nodes)
  t.same(hook.requests.map((r) => bodyOf(r).event), ['raised', 'reminder', 'reminder'], 'and one the next hour')
})

redisTest('two instances: a silence made on one keeps the other from sending a reminder', async (t) => {
  const { clock, timers } = mockTimers()
  const hook = await httpReceiver(t)
  const file = notifyFile(t, `receivers: { hook: { webhook: { url: "${hook.url}" } } }\nroutes: [{ to: [hook], on: [raised], repeat: 1h }]\n`)
  const env = redisEnv(t, { NOTIFY_FILE: file })
  const nodes = [await instance(t, env, { timers }), await instance(t, env, { timers })]
  const [a] = nodes as [Instance]
  const held = (await postAlert(a.fastify, { message: 'maintenance', location: 'db1' })).json()
  const loud = (await postAlert(a.fastify, { message: 'still down', location: 'web1' })).json()
  await waitFor(() => hook.requests.length >= 2)
  await settled(nodes)
  t.equal((await a.fastify.inject({ method: 'POST', url: '/silences', payload: { match: { location: 'db1' }, duration: '1d', comment: 'maintenance', by: 'ana' } })).statusCode, 201)
  clock.advance(3_600_000)
  await waitFor(() => hook.requests.length >= 3)
  await settled(nodes)
  clock.advance(1000)
  await settled(nodes)
  t.same(hook.requests.slice(2).map((r) => [bodyOf(r).event, bodyOf(r).alert.id]), [['reminder', loud.id]], 'a reminder for the alert no silence holds, none for the other')
  t.not(held.id, loud.id)
})
