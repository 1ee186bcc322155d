import t from 'tap'
import { build } from './helpers/app'

const ORIGINS = { CORS_ORIGINS_ALLOWED: 'http://localhost:3000, https://ops.example.com', CORS_CREDENTIAL: 'true', CORS_METHODS_ALLOWED: 'POST,GET', CORS_HEADERS_ALLOWED: 'Authorization,Content-Type' }

t.test('a listed origin is granted, with credentials', async (t) => {
  const app = await build(t, ORIGINS)
  const res = await app.inject({ url: '/alerts/history', headers: { origin: 'https://ops.example.com' } })
  t.equal(res.headers['access-control-allow-origin'], 'https://ops.example.com')
  t.equal(res.headers['access-control-allow-credentials'], 'true')
})

t.test('a preflight from a listed origin gets the configured methods and headers', async (t) => {
  const app = await build(t, ORIGINS)
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/alerts',
    headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], 'http://localhost:3000')
  t.equal(res.headers['access-control-allow-methods'], 'POST, GET')
  t.equal(res.headers['access-control-allow-headers'], 'Authorization, Content-Type')
})

t.test('an origin outside the list gets no CORS grant', async (t) => {
  const app = await build(t, ORIGINS)
  const res = await app.inject({ url: '/alerts/history', headers: { origin: 'https://evil.example' } })
  t.equal(res.headers['access-control-allow-origin'], undefined)
  const pre = await app.inject({
    method: 'OPTIONS',
    url: '/alerts',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }
  })
  t.equal(pre.headers['access-control-allow-origin'], undefined)
})

t.test('"*" grants any origin; with credentials the origin is echoed', async (t) => {
  const open = await build(t, { CORS_ORIGINS_ALLOWED: '*' })
  const res = await open.inject({ url: '/alerts/history', headers: { origin: 'https://anywhere.example' } })
  t.equal(res.headers['access-control-allow-origin'], '*')
  const cred = await build(t, { CORS_ORIGINS_ALLOWED: '*', CORS_CREDENTIAL: 'true' })
  const res2 = await cred.inject({ url: '/alerts/history', headers: { origin: 'https://anywhere.example' } })
  t.equal(res2.headers['access-control-allow-origin'], 'https://anywhere.example')
})

t.test('security headers are on every response, errors included', async (t) => {
  const app = await build(t)
  const responses = [
    await app.inject('/alerts/history'),
    await app.inject('/nope'),
    await app.inject({ method: 'POST', url: '/alerts', payload: {} }),
    await app.inject('/docs/json')
  ]
  for (const res of responses) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
    t.ok(res.headers['content-security-policy'])
  }
})
