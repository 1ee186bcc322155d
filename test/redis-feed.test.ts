import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { Event } from '../schemas/events'
import { createSequencer } from '../plugins/core/redis/feed'
import type { Range, Sequenced } from '../plugins/core/redis/store'
import { waitFor } from './helpers/wait'

// The order-keeping part of the Redis feed, given what Redis would answer.
// The whole feed against a real redis-server is in test/redis-rollback.test.ts.

const event = (message: string): Event => ({ id: randomUUID(), timestamp: new Date(0).toISOString(), type: 'chat', sender: 's', message })

interface FakeRedis { counter: number, history: Sequenced[], evicted?: number }

function sequencer (redis: FakeRedis) {
  const logged: Array<{ level: string, msg: string }> = []
  const log = {
    info: (_: object, msg: string) => { logged.push({ level: 'info', msg }) },
    warn: (_: object, msg: string) => { logged.push({ level: 'warn', msg }) },
    error: (_: object, msg: string) => { logged.push({ level: 'error', msg }) }
  }
  const readAfter = async (seq: number): Promise<Range> =>
    ({ found: true, newest: redis.counter, events: redis.history.filter((e) => e.seq > seq) })
  const s = createSequencer({
    readAfter,
    counter: async () => redis.counter,
    idAt: async (seq) => redis.history.find((e) => e.seq === seq)?.event.id,
    evictedThrough: async () => redis.evicted ?? 0,
    log: log as never,
    closed: () => false
  })
  const got: string[] = []
  s.subscribe((e) => { got.push((e as { message: string }).message) })
  // A reset is recorded in line with the events: clients are told before what follows it.
  s.onReset(() => { got.push('<reset>') })
  return { s, got, logged }
}

/** Publishes as append.lua does: counted, kept, then on the channel. */
function publish (redis: FakeRedis, message: string): Sequenced {
  const sequenced = { seq: ++redis.counter, event: event(message) }
  redis.history.push(sequenced)
  return sequenced
}

t.test('Redis back in time (counter below what was delivered): logged once, and what it numbers next is delivered', async (t) => {
  const redis: FakeRedis = { counter: 100, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  for (const m of ['a', 'b', 'c']) s.receive(publish(redis, m))
  t.same(got, ['a', 'b', 'c'])

  // Restarted from a snapshot taken after 'a': 'b' and 'c' are gone, the counter is back at 101.
  redis.history = redis.history.slice(0, 1)
  redis.counter = 101
  await s.resubscribed()
  s.receive(publish(redis, 'd'))
  s.receive(publish(redis, 'e'))
  await waitFor(() => got.length === 6)
  t.same(got, ['a', 'b', 'c', '<reset>', 'd', 'e'], 'events published after the rollback reach the listeners, after the reset')
  t.same(logged.filter((l) => /went back in time/.test(l.msg)).map((l) => l.level), ['error'], 'said once')
})

t.test('Redis back in time, then past where it was before the feed heard of it: the number now holds another event', async (t) => {
  const redis: FakeRedis = { counter: 0, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  for (const m of ['a', 'b']) s.receive(publish(redis, m))
  // Back to before 'b', then two events appended while this instance was not subscribed.
  redis.history = redis.history.slice(0, 1)
  redis.counter = 1
  publish(redis, 'x')
  publish(redis, 'y')
  await s.resubscribed()
  s.receive(publish(redis, 'z'))
  await waitFor(() => got.includes('z'))
  t.same(got, ['a', 'b', '<reset>', 'z'], 'the events after the rollback flow again')
  t.equal(logged.filter((l) => /went back in time/.test(l.msg)).length, 1)
})

t.test('a live event at or below what was delivered, with the subscription up: caught up, then delivered', async (t) => {
  const redis: FakeRedis = { counter: 10, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  for (const m of ['a', 'b', 'c']) s.receive(publish(redis, m))
  redis.history = redis.history.slice(0, 1)
  redis.counter = 11
  s.receive(publish(redis, 'd'))
  await waitFor(() => got.length === 5)
  t.same(got, ['a', 'b', 'c', '<reset>', 'd'])
  t.equal(logged.filter((l) => /went back in time/.test(l.msg)).length, 1)
})

t.test('an ordinary reconnection is no rollback: missed events are read back, nothing is logged as lost', async (t) => {
  const redis: FakeRedis = { counter: 0, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  s.receive(publish(redis, 'a'))
  publish(redis, 'missed')
  await s.resubscribed()
  s.receive(publish(redis, 'b'))
  await waitFor(() => got.length === 3)
  t.same(got, ['a', 'missed', 'b'])
  t.same(logged, [])
})

t.test('an emptied Redis numbering from the clock again, the subscription up: a reset, then its events', async (t) => {
  const redis: FakeRedis = { counter: 1000, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  for (const m of ['a', 'b']) s.receive(publish(redis, m))
  // FLUSHALL: nothing left; append.lua starts the counter from the clock, far ahead.
  redis.history = []
  redis.counter = 5_000_000
  s.receive(publish(redis, 'c'))
  await waitFor(() => got.length === 4)
  t.same(got, ['a', 'b', '<reset>', 'c'])
  t.equal(logged.filter((l) => /went back in time/.test(l.msg)).length, 1)
})

t.test('the event delivered last let go for room while unsubscribed: no reset, the rest read back', async (t) => {
  const redis: FakeRedis = { counter: 0, history: [] }
  const { s, got, logged } = sequencer(redis)
  await s.resubscribed()
  s.receive(publish(redis, 'a'))
  for (const m of ['x', 'y', 'z']) publish(redis, m)
  // The history keeps two: 'a' and 'x' were let go.
  redis.history = redis.history.slice(2)
  redis.evicted = 2
  await s.resubscribed()
  await waitFor(() => got.length === 3)
  t.same(got, ['a', 'y', 'z'])
  t.same(logged.map((l) => l.level), ['warn'], 'said as missed, not as a rollback')
})
