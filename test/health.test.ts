import t from 'tap'
import { build } from './helpers/app'
import { waitFor } from './helpers/wait'
import { build as buildApp } from '../app'
import { loadConfig } from '../plugins/app/config'
import { postAlert } from './helpers/http'

t.test('/health and /ready answer 200 on a running server', async (t) => {
  const app = await build(t)
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('readiness says "starting" before the server is ready and "shutting down" once closing begins', async (t) => {
  const app = buildApp(loadConfig({ ALERT_INTERVAL_MS: 0, STORE: 'memory' }), false)
  await app.after()
  t.equal(app.readiness.problem(), 'starting')
  let during: string | undefined
  app.addHook('onClose', async () => { during = app.readiness.problem() })
  await app.ready()
  t.equal(app.readiness.problem(), undefined)
  await app.close()
  t.equal(during, 'shutting down')
})

t.test('overloaded: requests get 503 with Retry-After, /ready says overloaded, /health stays 200', async (t) => {
  // Any heap is over one byte: the server is overloaded from its first sample on.
  const app = await build(t, { MAX_HEAP_USED_BYTES: 1 })
  await waitFor(() => app.isUnderPressure())
  const res = await postAlert(app)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '10')
  t.same(res.json(), { statusCode: 503, code: 'OVERLOADED', error: 'Service Unavailable', message: 'the server is overloaded; retry later' })
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'not ready', reason: 'overloaded' })
  t.ok(ready.headers['retry-after'])
  t.equal((await app.inject('/health')).statusCode, 200)
  t.equal((await app.inject('/metrics')).statusCode, 200, 'metrics can still be scraped')
})

t.test('the overload thresholds default to 1 s of event-loop delay and no heap limit', async (t) => {
  const app = await build(t, { MAX_EVENT_LOOP_DELAY_MS: undefined })
  t.equal(app.config.MAX_EVENT_LOOP_DELAY_MS, 1000)
  t.equal(app.config.MAX_HEAP_USED_BYTES, 0)
})
