import t from 'tap'
import { build } from './helpers/app'
import { testRejections } from './helpers/rejections'
import { postAlert, publishAlert } from './helpers/http'

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

t.test('POST /alerts stamps, stores and returns the alert', async (t) => {
  const app = await build(t)
  const res = await postAlert(app, { message: 'Unauthorized door access', location: 'South Gate' })
  t.equal(res.statusCode, 200)
  const alert = res.json()
  // The original contract's fields first, in its order; the lifecycle's after.
  t.same(Object.keys(alert), ['id', 'timestamp', 'type', 'message', 'location', 'severity', 'state', 'count', 'updatedAt', 'source'])
  t.match(alert, { severity: 'warning', state: 'open', count: 1, source: 'api', updatedAt: alert.timestamp })
  t.match(alert, { type: 'alert', message: 'Unauthorized door access', location: 'South Gate' })
  t.match(alert.id, UUID4)
  t.match(alert.timestamp, ISO_Z)

  const history = await app.inject('/alerts/history')
  t.equal(history.statusCode, 200)
  t.same(history.json(), { alerts: [alert], count: 1 })
})

t.test('client-set id, timestamp, type and unknown fields are dropped', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/alerts',
    payload: { message: 'm', location: 'l', id: 'mine', timestamp: '1999-01-01T00:00:00Z', type: 'chat', admin: true }
  })
  t.equal(res.statusCode, 200)
  const alert = res.json()
  t.not(alert.id, 'mine')
  t.not(alert.timestamp, '1999-01-01T00:00:00Z')
  t.equal(alert.type, 'alert')
  t.equal(alert.admin, undefined)
  const [stored] = (await app.inject('/alerts/history')).json().alerts
  t.same(stored, alert)
})

t.test('history is capped at HISTORY_SIZE, oldest dropped first, oldest first', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 3, REPLAY_WINDOW: 3 })
  for (let i = 0; i < 5; i++) {
    await publishAlert(app, `m${i}`)
  }
  const body = (await app.inject('/alerts/history/')).json()
  t.equal(body.count, 3)
  t.same(body.alerts.map((a: { message: string }) => a.message), ['m2', 'm3', 'm4'])
})

t.test('the default history size is 10', async (t) => {
  const app = await build(t)
  for (let i = 0; i < 12; i++) {
    await publishAlert(app, `m${i}`)
  }
  const body = (await app.inject('/alerts/history')).json()
  t.equal(body.count, 10)
  t.equal(body.alerts[0].message, 'm2')
})

testRejections(t, '/alerts', { message: 1000, location: 200 }, '/alerts/history', { alerts: [], count: 0 }, true)

t.test('a 1000-character message and a 200-character location are accepted', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'x'.repeat(1000), location: 'y'.repeat(200) } })
  t.equal(res.statusCode, 200)
})

t.test('unknown routes and methods get the JSON error shape', async (t) => {
  const app = await build(t)
  const res = await app.inject('/nope')
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'Route GET:/nope not found' })
  const del = await app.inject({ method: 'DELETE', url: '/alerts' })
  t.equal(del.statusCode, 404)
})
