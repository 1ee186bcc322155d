import t from 'tap'
import { build, listen } from './helpers/app'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { failureBudget } from '../plugins/core/failure-budget'
import { mockTimers } from './helpers/clock'

const TOKEN = 'budget-token-0123456789abcdef'
const LIMITS = { API_TOKEN: TOKEN, AUTH_FAILURE_MAX: 3, AUTH_FAILURE_WINDOW_MS: 60_000 }
const from = (remoteAddress: string, authorization?: string) =>
  ({ remoteAddress, headers: authorization === undefined ? {} : { authorization } })

t.test('past AUTH_FAILURE_MAX wrong tokens, every route behind the token answers that address 429, even to the right token', async (t) => {
  const app = await build(t, { ...LIMITS, METRICS_TOKEN: 'metrics-token-0123456789' })
  const attacker = '10.0.0.66'
  // Guesses spread over GETs and POSTs of every route, and the metrics token.
  t.equal((await app.inject({ url: '/alerts/history', ...from(attacker, 'Bearer guess-1') })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/message', payload: { sender: 's', message: 'm' }, ...from(attacker, 'Bearer guess-2') })).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', ...from(attacker, 'Bearer guess-3') })).statusCode, 401)

  const calls = [
    { method: 'GET' as const, url: '/alerts/history' },
    { method: 'GET' as const, url: '/message' },
    { method: 'POST' as const, url: '/alerts', payload: { message: 'm', location: 'l' } },
    { method: 'POST' as const, url: '/message', payload: { sender: 's', message: 'm' } }
  ]
  for (const call of calls) {
    for (const authorization of [`Bearer ${TOKEN}`, 'Bearer guess-4', undefined]) {
      const res = await app.inject({ ...call, ...from(attacker, authorization) })
      t.equal(res.statusCode, 429, `${call.method} ${call.url} with ${authorization ?? 'no token'}`)
      t.match(res.json(), { statusCode: 429, code: 'AUTH_RATE_LIMITED', error: 'Too Many Requests', message: /too many failed authentications/ })
      const retryAfter = Number(res.headers['retry-after'])
      t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter}`)
    }
  }
  t.equal((await app.inject({ url: '/health', remoteAddress: attacker })).statusCode, 200, 'open routes stay open')
  t.equal((await app.inject({ url: '/alerts/history', ...from('10.0.0.7', `Bearer ${TOKEN}`) })).statusCode, 200, 'another address is not affected')
  t.equal((await app.inject({ url: '/alerts/history', headers: { authorization: `Bearer ${TOKEN}` } })).json().count, 0, 'nothing the attacker sent was stored')
})

t.test('a missing token is not a guess and is never counted, nor one sent without "Bearer "; right tokens are not either', async (t) => {
  const app = await build(t, LIMITS)
  for (let i = 0; i < 10; i++) {
    t.equal((await app.inject({ url: '/alerts/history', remoteAddress: '10.0.0.8' })).statusCode, 401)
    t.equal((await app.inject({ url: '/alerts/history', ...from('10.0.0.8', TOKEN) })).statusCode, 401)
    t.equal((await app.inject({ url: '/alerts/history', ...from('10.0.0.8', `Bearer ${TOKEN}`) })).statusCode, 200)
  }
  t.equal((await app.inject({ url: '/alerts/history', ...from('10.0.0.8', 'Bearer wrong') })).statusCode, 401, 'the budget is whole')
})

t.test('WebSocket upgrades: wrong ?token= guesses count, and past the budget the upgrade is refused with 429', async (t) => {
  const { wsUrl } = await listen(t, LIMITS)
  for (const guess of ['a', 'b']) t.equal((await refusedUpgrade(`${wsUrl}/ws?token=${guess}`)).status, 401)
  t.equal((await refusedUpgrade(`${wsUrl}/ws`, { headers: { authorization: 'Bearer c' } })).status, 401)
  const refused = await refusedUpgrade(`${wsUrl}/ws?token=${TOKEN}`)
  t.equal(refused.status, 429)
  t.match(refused.body, { statusCode: 429, message: /too many failed authentications/ })
  t.equal((await refusedUpgrade(`${wsUrl}/ws`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 429)
})

t.test('behind TRUST_PROXY the budget is per client address from X-Forwarded-For', async (t) => {
  const app = await build(t, { ...LIMITS, TRUST_PROXY: '10.9.9.9' })
  const via = (client: string, authorization: string) => ({ url: '/alerts/history', remoteAddress: '10.9.9.9', headers: { 'x-forwarded-for': client, authorization } })
  for (let i = 0; i < 3; i++) t.equal((await app.inject(via('1.1.1.1', 'Bearer wrong'))).statusCode, 401)
  t.equal((await app.inject(via('1.1.1.1', `Bearer ${TOKEN}`))).statusCode, 429)
  t.equal((await app.inject(via('2.2.2.2', `Bearer ${TOKEN}`))).statusCode, 200, 'another client behind the same proxy')
})

t.test('an IPv6 client cannot escape the budget by changing address within its /64', async (t) => {
  const app = await build(t, LIMITS)
  const from = (remoteAddress: string, authorization: string) => ({ url: '/alerts/history', remoteAddress, headers: { authorization } })
  for (const host of ['1', '2', '3']) t.equal((await app.inject(from(`2001:db8:5:6::${host}`, 'Bearer wrong'))).statusCode, 401)
  t.equal((await app.inject(from('2001:db8:5:6::4', `Bearer ${TOKEN}`))).statusCode, 429, 'a fourth address of the same /64')
  t.equal((await app.inject(from('2001:db8:5:7::1', `Bearer ${TOKEN}`))).statusCode, 200, 'another /64')
})

t.test('the budget: fixed windows per key, the oldest key forgotten past the capacity', async (t) => {
  let now = 0
  const budget = failureBudget(2, 1000, 3, () => now)
  t.equal(budget.retryIn('a'), 0)
  t.equal(budget.fail('a'), false)
  t.equal(budget.retryIn('a'), 0)
  t.equal(budget.fail('a'), true, 'this one used it up')
  now = 400
  t.equal(budget.retryIn('a'), 600, 'until the window that began with the first failure ends')
  t.equal(budget.fail('a'), false, 'reported once')
  now = 1000
  t.equal(budget.retryIn('a'), 0, 'a new window')
  t.equal(budget.fail('a'), false)
  for (const key of ['b', 'c', 'd']) { budget.fail(key); budget.fail(key) }
  t.equal(budget.retryIn('b'), 1000)
  t.equal(budget.retryIn('a'), 0, 'forgotten: at most 3 keys')
})

t.test('defaults: 10 wrong tokens a minute', async (t) => {
  const app = await build(t, { AUTH_FAILURE_MAX: undefined })
  t.equal(app.config.AUTH_FAILURE_MAX, 10)
  t.equal(app.config.AUTH_FAILURE_WINDOW_MS, 60_000)
  const browser = await listen(t, { API_TOKEN: TOKEN, AUTH_FAILURE_MAX: 1 })
  await Client.open(`${browser.wsUrl}/ws?token=${TOKEN}`, t)
  t.pass('the right token before any failure opens the socket')
})

t.test('the failure window runs on the app\'s clock: an address is let in again once it has passed, with no wall-clock wait', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, LIMITS, { timers })
  const attacker = '10.0.0.67'
  for (let i = 1; i <= 3; i++) await app.inject({ url: '/alerts/history', ...from(attacker, `Bearer guess-${i}`) })
  t.equal((await app.inject({ url: '/alerts/history', ...from(attacker, `Bearer ${TOKEN}`) })).statusCode, 429)
  clock.advance(59_999)
  t.equal((await app.inject({ url: '/alerts/history', ...from(attacker, `Bearer ${TOKEN}`) })).statusCode, 429, 'not before the window ends')
  clock.advance(1)
  t.equal((await app.inject({ url: '/alerts/history', ...from(attacker, `Bearer ${TOKEN}`) })).statusCode, 200)
})
