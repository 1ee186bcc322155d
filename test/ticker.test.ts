import t from 'tap'
import pino from 'pino'
import { build, listen } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { Client } from './helpers/ws-client'
import { createTicker } from '../plugins/core/ticker'
import { stamp, type Publisher } from '../plugins/core/publisher'

const claim = async (): Promise<boolean> => true

/** Lets the claim and publish a tick started run to their end (they are promises, not timers). */
const settle = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

t.test('the ticker publishes the configured alert through the normal path, once per interval', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { ALERT_INTERVAL_MS: 10_000, ALERT_MESSAGE: 'Smoke', ALERT_LOCATION: 'Lab' }, { timers })
  const a = await Client.open(`${wsUrl}/ws`, t)
  clock.advance(10_000)
  const first = await a.next()
  clock.advance(10_000)
  t.match(await a.next(), { type: 'alert_update', change: 'resolved', by: 'ticker', alert: { id: first.id } }, 'the previous tick\'s alert is resolved first')
  const second = await a.next()
  t.match(first, { type: 'alert', message: 'Smoke', location: 'Lab' })
  t.match(second, { type: 'alert', message: 'Smoke', location: 'Lab' })
  t.not(first.id, second.id)
  const history = (await fastify.inject('/alerts/history')).json()
  t.same(history.alerts.map((x: { id: string }) => x.id), [first.id, second.id], 'stored as well as sent, one per interval')
})

t.test('the default alert is "Intruder detected" at "North Gate", every 10 s', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { ALERT_INTERVAL_MS: undefined }, { timers })
  t.equal(fastify.config.ALERT_INTERVAL_MS, 10000)
  const a = await Client.open(`${wsUrl}/ws`, t)
  // A tick falls on the next multiple of the interval, at most 10 s away.
  clock.advance(10_000)
  t.match(await a.next(), { type: 'alert', message: 'Intruder detected', location: 'North Gate' })
  clock.advance(9_999)
  await settle()
  t.equal((await fastify.inject('/alerts/history')).json().count, 1, 'not before the next 10 s')
})

t.test('ALERT_INTERVAL_MS=0 publishes nothing', async (t) => {
  const { clock, timers } = mockTimers()
  const off = await build(t, { ALERT_INTERVAL_MS: 0, WS_HEARTBEAT_MS: 0 }, { timers })
  t.equal(off.config.ALERT_INTERVAL_MS, 0)
  // The one timer is the heartbeat monitors' check, which runs whatever the ticker does.
  t.equal(clock.timers.size, 1, 'no ticker timer set')
  clock.advance(24 * 3600_000)
  await settle()
  t.same((await off.inject('/alerts/history')).json(), { alerts: [], count: 0 })
})

t.test('ticks fall on multiples of the interval, whenever the ticker starts', async (t) => {
  const { clock, timers } = mockTimers()
  const asked: number[] = []
  clock.advance(3_000) // 3 s into a 10 s slot
  const ticker = createTicker({
    intervalMs: 10_000,
    message: 'm',
    location: 'l',
    publisher: { publish: async (draft) => stamp(draft) },
    log: pino({ level: 'silent' }),
    claim: async (slot) => { asked.push(slot); return true },
    timers
  })
  t.teardown(() => ticker.stop())
  ticker.start()
  clock.advance(6_999)
  t.same(asked, [])
  clock.advance(1)
  t.same(asked, [Math.floor(clock.now() / 10_000)], 'the slot is the clock divided by the interval')
  clock.advance(10_000)
  clock.advance(10_000)
  t.equal(asked.length, 3)
  // A clock that jumps (an event loop blocked for long): the late tick takes
  // its own slot, and the slots missed meanwhile are skipped.
  clock.advance(35_000)
  t.equal(asked.length, 4)
  clock.advance(5_000)
  t.equal(asked.length, 5)
  const [first] = asked as [number]
  t.same(asked, [first, first + 1, first + 2, first + 3, first + 6], 'never a slot twice')
})

t.test('a stopped ticker publishes no more, while a running one keeps going', async (t) => {
  const { clock, timers } = mockTimers()
  const counts = { stopped: 0, running: 0 }
  const publisher = (name: 'stopped' | 'running'): Pick<Publisher, 'publish'> => ({
    publish: async (draft) => {
      counts[name]++
      return stamp(draft)
    }
  })
  const log = pino({ level: 'silent' })
  const stopped = createTicker({ intervalMs: 5, message: 'm', location: 'l', publisher: publisher('stopped'), log, claim, timers })
  const running = createTicker({ intervalMs: 5, message: 'm', location: 'l', publisher: publisher('running'), log, claim, timers })
  t.teardown(() => running.stop())
  stopped.start()
  stopped.start() // a second start does not add a second timer
  running.start()
  clock.advance(5)
  await settle()
  t.same(counts, { stopped: 1, running: 1 })
  stopped.stop()
  for (let i = 0; i < 5; i++) clock.advance(5)
  await settle()
  t.same(counts, { stopped: 1, running: 6 })
})

t.test('a claim that resolves after stop publishes nothing', async (t) => {
  const { clock, timers } = mockTimers()
  let published = 0
  let answer: (won: boolean) => void = () => {}
  const ticker = createTicker({
    intervalMs: 5,
    message: 'm',
    location: 'l',
    publisher: { publish: async (draft) => { published++; return stamp(draft) } },
    log: pino({ level: 'silent' }),
    claim: async () => await new Promise<boolean>((resolve) => { answer = resolve }),
    timers
  })
  ticker.start()
  clock.advance(5)
  ticker.stop()
  answer(true)
  await settle()
  t.equal(published, 0)
})

t.test('a failing publish is logged and the ticker keeps going', async (t) => {
  const { clock, timers } = mockTimers()
  let calls = 0
  const errors: unknown[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { errors.push(JSON.parse(line)) } })
  const ticker = createTicker({
    intervalMs: 5,
    message: 'm',
    location: 'l',
    publisher: { publish: async () => { calls++; throw new Error('store down') } },
    log,
    claim,
    timers
  })
  t.teardown(() => ticker.stop())
  ticker.start()
  clock.advance(5)
  await settle()
  clock.advance(5)
  await settle()
  t.equal(calls, 2)
  t.match(errors, [{ msg: 'automatic alert failed', err: { message: 'store down' } }, { msg: 'automatic alert failed' }])
})

t.test('with default settings the ticks do not pile up: an alert frame every interval, and an hour later one automatic alert open', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { ALERT_INTERVAL_MS: undefined }, { timers })
  const client = await Client.open(`${wsUrl}/ws`, t)
  const ticks = 3600_000 / fastify.config.ALERT_INTERVAL_MS
  type Frame = { type: string, id: string, message?: string, location?: string, change?: string, alert?: { id: string } }
  let previous: Frame | undefined
  for (let i = 0; i < ticks; i++) {
    clock.advance(fastify.config.ALERT_INTERVAL_MS)
    if (previous !== undefined) {
      // The previous tick's alert is resolved first, then the new one is raised.
      const update = await client.next<Frame>()
      if (update.type !== 'alert_update' || update.alert?.id !== previous.id || update.change !== 'resolved') {
        t.fail(`tick ${i}: expected the previous alert resolved, got ${JSON.stringify(update)}`)
        return
      }
    }
    const alert = await client.next<Frame>()
    if (alert.type !== 'alert' || alert.message !== 'Intruder detected' || alert.location !== 'North Gate') {
      t.fail(`tick ${i}: expected the automatic alert, got ${JSON.stringify(alert)}`)
      return
    }
    previous = alert
  }
  t.pass(`${ticks} ticks, each an alert frame of the original contract`)
  const board = (await fastify.inject('/alerts?state=open,acknowledged')).json()
  t.equal(board.count, 1, 'one automatic alert open')
  t.match(board.alerts[0], { id: previous?.id, source: 'ticker', key: 'ticker', state: 'open' })
  const history = (await fastify.inject('/alerts/history')).json()
  t.equal(history.count, 10, 'the history shows the last ticks, as ever')
  t.match(history.alerts.slice(0, 9), Array(9).fill({ state: 'resolved', resolvedBy: 'ticker' }))
})
