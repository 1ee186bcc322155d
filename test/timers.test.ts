import t from 'tap'
import { repeating } from '../plugins/core/timers'
import { mockTimers } from './helpers/clock'

t.test('repeating: stop waits for the run in flight, and no run starts after it', async (t) => {
  const { clock, timers } = mockTimers()
  const warnings: string[] = []
  let runs = 0
  let finish: () => void = () => {}
  const loop = repeating(async () => {
    runs++
    await new Promise<void>((resolve) => { finish = resolve })
  }, 1000, 'the check', { warn: (_obj, msg) => { warnings.push(String(msg)) } }, timers)
  loop.start()
  clock.advance(1000)
  t.equal(runs, 1, 'the first run has started')

  let stopped = false
  const stopping = loop.stop().then(() => { stopped = true })
  // A few turns: the stop would have settled by now if it did not wait.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
  t.notOk(stopped, 'stop waits while the run is in flight')
  finish()
  await stopping
  t.ok(stopped, 'and settles once it has ended')
  clock.advance(10_000)
  t.equal(runs, 1, 'no run after the stop')
  t.same(warnings, [])
})

t.test('repeating: a failed run is logged and the next one goes on; stop without a run in flight settles at once', async (t) => {
  const { clock, timers } = mockTimers()
  const warnings: string[] = []
  let runs = 0
  const loop = repeating(async () => {
    runs++
    if (runs === 1) throw new Error('first fails')
  }, 1000, 'the check', { warn: (_obj, msg) => { warnings.push(String(msg)) } }, timers)
  loop.start()
  loop.start()
  clock.advance(1000)
  // The failure is logged and the next run scheduled once the run has settled.
  for (let i = 0; i < 5; i++) {
    if (runs >= 2) break
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(1000)
  }
  t.equal(runs, 2, 'the next run went on')
  t.same(warnings, ['the check failed'])
  await loop.stop()
  clock.advance(10_000)
  t.equal(runs, 2)
})
