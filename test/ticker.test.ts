import t from 'tap'
import pino from 'pino'
import { build, listen } from './helpers/app'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { createTicker } from '../plugins/core/ticker'
import { stamp, type Publisher } from '../plugins/core/publisher'

const claim = async (): Promise<boolean> => true

t.test('the ticker publishes the configured alert through the normal path', async (t) => {
  const { fastify, wsUrl } = await listen(t, { ALERT_INTERVAL_MS: 20, ALERT_MESSAGE: 'Smoke', ALERT_LOCATION: 'Lab' })
  const a = await Client.open(`${wsUrl}/ws`, t)
  const first = await a.next()
  const second = await a.next()
  t.match(first, { type: 'alert', message: 'Smoke', location: 'Lab' })
  t.match(second, { type: 'alert', message: 'Smoke', location: 'Lab' })
  t.not(first.id, second.id)
  const history = (await fastify.inject('/alerts/history')).json()
  t.ok(history.alerts.some((x: { id: string }) => x.id === first.id), 'stored as well as sent')
})

t.test('the default alert is "Intruder detected" at "North Gate"', async (t) => {
  const { wsUrl } = await listen(t, { ALERT_INTERVAL_MS: 20 })
  const a = await Client.open(`${wsUrl}/ws`, t)
  t.match(await a.next(), { type: 'alert', message: 'Intruder detected', location: 'North Gate' })
})

t.test('ALERT_INTERVAL_MS=0 publishes nothing, and the default is 10 s', async (t) => {
  const off = await build(t, { ALERT_INTERVAL_MS: 0 })
  t.equal(off.config.ALERT_INTERVAL_MS, 0)
  // The ticker is checked from the other side: a faster ticker in the same
  // test publishes while this one stays silent.
  const { wsUrl } = await listen(t, { ALERT_INTERVAL_MS: 10 })
  const a = await Client.open(`${wsUrl}/ws`, t)
  await a.next()
  await a.next()
  t.same((await off.inject('/alerts/history')).json(), { alerts: [], count: 0 })

  const defaults = await build(t, { ALERT_INTERVAL_MS: undefined })
  t.equal(defaults.config.ALERT_INTERVAL_MS, 10000)
})

t.test('a stopped ticker publishes no more, while a running one keeps going', async (t) => {
  const counts = { stopped: 0, running: 0 }
  const publisher = (name: 'stopped' | 'running'): Pick<Publisher, 'publish'> => ({
    publish: async (draft) => {
      counts[name]++
      return stamp(draft)
    }
  })
  const log = pino({ level: 'silent' })
  const stopped = createTicker({ intervalMs: 5, message: 'm', location: 'l', publisher: publisher('stopped'), log, claim })
  const running = createTicker({ intervalMs: 5, message: 'm', location: 'l', publisher: publisher('running'), log, claim })
  t.teardown(() => running.stop())
  stopped.start()
  stopped.start() // a second start does not add a second timer
  await waitFor(() => counts.stopped >= 1)
  stopped.stop()
  const atStop = counts.stopped
  running.start()
  // Five ticks of an equal interval: the stopped ticker would have fired by now.
  await waitFor(() => counts.running >= 5)
  t.equal(counts.stopped, atStop)
})

t.test('a failing publish is logged and the ticker keeps going', async (t) => {
  let calls = 0
  const errors: unknown[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { errors.push(JSON.parse(line)) } })
  const ticker = createTicker({
    intervalMs: 5,
    message: 'm',
    location: 'l',
    publisher: { publish: async () => { calls++; throw new Error('store down') } },
    log,
    claim
  })
  t.teardown(() => ticker.stop())
  ticker.start()
  await waitFor(() => calls >= 2)
  t.match(errors[0], { msg: 'automatic alert failed', err: { message: 'store down' } })
})
