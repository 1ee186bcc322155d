import t from 'tap'
import { Ring } from '../plugins/core/ring'
import type { Replay } from '../plugins/core/backend'
import { createMemoryStore } from '../plugins/core/memory-backend'
import { stamp } from '../plugins/core/publisher'

t.test('Ring keeps the newest items, oldest first, and reports what it drops', async (t) => {
  const ring = new Ring<number>(3)
  t.same(ring.toArray(), [])
  t.equal(ring.push(1), undefined)
  t.equal(ring.push(2), undefined)
  t.equal(ring.push(3), undefined)
  t.same(ring.toArray(), [1, 2, 3])
  t.equal(ring.push(4), 1)
  t.equal(ring.push(5), 2)
  t.same(ring.toArray(), [3, 4, 5])
  t.equal(ring.size, 3)
})

t.test('Ring reads one item by place and finds where an ordered ring crosses a bound by halving, wrapped around or not', async (t) => {
  for (let pushed = 0; pushed <= 12; pushed++) {
    const ring = new Ring<number>(5)
    for (let i = 0; i < pushed; i++) ring.push(i * 10)
    const items = ring.toArray()
    t.same(Array.from({ length: ring.size + 1 }, (_, i) => ring.at(i)), [...items, undefined], `${pushed} pushed: at()`)
    t.equal(ring.at(-1), undefined)
    for (let bound = -5; bound <= 125; bound += 5) {
      const expected = items.findIndex((x) => x > bound)
      t.equal(ring.firstNot((x) => x <= bound), expected < 0 ? items.length : expected, `${pushed} pushed, after ${bound}`)
    }
  }
})

t.test('memory store caps each stream on its own and lists oldest first', async (t) => {
  const store = createMemoryStore({ historySize: 3 })
  const alerts = Array.from({ length: 5 }, (_, i) => stamp({ type: 'alert', message: `a${i}`, location: 'x' }))
  const chats = Array.from({ length: 2 }, (_, i) => stamp({ type: 'chat', sender: 's', message: `c${i}` }))
  for (const e of [...alerts, ...chats]) await store.append(e)
  t.same((await store.alerts()).map((e) => e.alert.message), ['a0', 'a1', 'a2', 'a3', 'a4'], 'alerts that are not resolved are all kept')
  t.same((await store.chats()).map((e) => e.message), ['c0', 'c1'])
})

t.test('since() replays both streams in publish order after an id', async (t) => {
  const store = createMemoryStore({ historySize: 3 })
  const events = [
    stamp({ type: 'alert', message: 'a0', location: 'x' }),
    stamp({ type: 'chat', sender: 's', message: 'c0' }),
    stamp({ type: 'alert', message: 'a1', location: 'x' }),
    stamp({ type: 'chat', sender: 's', message: 'c1' }),
    stamp({ type: 'alert', message: 'a2', location: 'x' })
  ]
  for (const e of events) await store.append(e)
  const names = (r: Replay): string[] => r.events.map((e) => 'message' in e ? e.message : '')

  const all = await store.since()
  t.equal(all.found, true)
  t.same(names(all), ['a0', 'c0', 'a1', 'c1', 'a2'])

  const after = await store.since(events[1]?.id)
  t.equal(after.found, true)
  t.same(names(after), ['a1', 'c1', 'a2'])

  t.same(names(await store.since(events[4]?.id)), [], 'nothing after the newest')

  const unknown = await store.since('00000000-0000-4000-8000-000000000000')
  t.equal(unknown.found, false)
  t.same(names(unknown), ['a0', 'c0', 'a1', 'c1', 'a2'], 'an unknown id gets the whole history')

  // Push a0 out of the alert stream: its id is no longer known.
  await store.append(stamp({ type: 'alert', message: 'a3', location: 'x' }))
  const evicted = await store.since(events[0]?.id)
  t.equal(evicted.found, false)
  t.same(names(evicted), ['c0', 'a1', 'c1', 'a2', 'a3'])
})

t.test('stamp sets a v4 uuid, a UTC timestamp and the type, and copies only known fields', async (t) => {
  const draft = { type: 'alert' as const, message: 'm', location: 'l', id: 'mine', extra: 1 }
  const event = stamp(draft)
  t.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.match(event.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.same(Object.keys(event), ['id', 'timestamp', 'type', 'message', 'location', 'severity', 'state', 'count', 'updatedAt', 'source'])
  t.same(Object.keys(stamp({ type: 'chat', sender: 's', message: 'm' })), ['id', 'timestamp', 'type', 'sender', 'message'])
})
