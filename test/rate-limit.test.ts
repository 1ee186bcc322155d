import t from 'tap'
import { build, buildLogged, listen } from './helpers/app'
import { refusedUpgrade, Client } from './helpers/ws-client'
import { timeWindow } from '../plugins/external/rate-limit'
import { addressKey } from '../plugins/core/address'
import { mockTimers } from './helpers/clock'

const post = { method: 'POST' as const, url: '/alerts', payload: { message: 'm', location: 'l' } }

t.test('publishing past RATE_LIMIT_MAX per window gets 429 with Retry-After, and is not stored', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW: '1 minute' })
  for (let i = 0; i < 3; i++) t.equal((await app.inject(post)).statusCode, 200)
  const limited = await app.inject(post)
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, `Retry-After: ${String(limited.headers['retry-after'])}`)
  t.same(Object.keys(limited.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: /rate limit of 3 requests per 1 minute/ })
  const chat = await app.inject({ method: 'POST', url: '/message', payload: { sender: 's', message: 'm' } })
  t.equal(chat.statusCode, 429, 'the budget covers every publishing route')
  t.equal((await app.inject('/alerts/history')).json().count, 3)
  t.equal((await app.inject('/message')).json().count, 0)
  t.equal((await app.inject('/alerts/history')).statusCode, 200, 'reads are not limited')
})

t.test('the publish window runs on the app\'s clock: the budget is whole again once it has passed', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, { RATE_LIMIT_MAX: 1, RATE_LIMIT_WINDOW: '1 minute' }, { timers })
  t.equal((await app.inject(post)).statusCode, 200)
  t.equal((await app.inject(post)).statusCode, 429)
  clock.advance(59_999)
  t.equal((await app.inject(post)).statusCode, 429, 'not before the window ends')
  clock.advance(1)
  t.equal((await app.inject(post)).statusCode, 200, 'with no wall-clock wait')
})

t.test('each client address has its own budget', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 1 })
  t.equal((await app.inject({ ...post, remoteAddress: '10.0.0.1' })).statusCode, 200)
  t.equal((await app.inject({ ...post, remoteAddress: '10.0.0.1' })).statusCode, 429)
  t.equal((await app.inject({ ...post, remoteAddress: '10.0.0.2' })).statusCode, 200)
})

t.test('the key of an address: IPv4 as it is, IPv6 by its network of IPV6_SUBNET bits, IPv4-mapped as IPv4', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['192.0.2.7', 64, '192.0.2.7'],
    ['unknown', 64, 'unknown'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:db8:1:2::1', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:0db8:0001:0002:0000:0000:0000:0009', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:db8:1:2ff::1', 56, '2001:db8:1:200:0:0:0:0/56'],
    ['2001:db8:1:2::1', 48, '2001:db8:1:0:0:0:0:0/48'],
    ['2001:db8:1:2::1', 60, '2001:db8:1:0:0:0:0:0/60'],
    ['2001:db8:1:2::1', 128, '2001:db8:1:2:0:0:0:1'],
    ['2001:DB8:1:2::1', 128, '2001:db8:1:2:0:0:0:1'],
    ['::1', 64, '0:0:0:0:0:0:0:0/64'],
    ['::', 128, '0:0:0:0:0:0:0:0'],
    ['fe80::1%eth0', 64, 'fe80:0:0:0:0:0:0:0/64'],
    ['::ffff:192.0.2.7', 64, '192.0.2.7'],
    ['::ffff:c000:207', 128, '192.0.2.7'],
    ['64:ff9b::192.0.2.7', 128, '64:ff9b:0:0:0:0:c000:207'],
    ['not:an:address', 64, 'not:an:address']
  ]
  for (const [address, prefix, key] of cases) t.equal(addressKey(address, prefix), key, `${address} /${prefix}`)
})

t.test('IPv6 clients share a budget with their /64 (IPV6_SUBNET), IPv4-mapped ones with their IPv4 address', async (t) => {
  const from = (remoteAddress: string) => ({ ...post, remoteAddress })
  const app = await build(t, { RATE_LIMIT_MAX: 1 })
  t.equal((await app.inject(from('2001:db8:1:2::a'))).statusCode, 200)
  const limited = await app.inject(from('2001:db8:1:2:ffff::b'))
  t.equal(limited.statusCode, 429, 'another address of the same /64: the same budget')
  t.match(limited.json(), { code: 'RATE_LIMITED' })
  t.equal((await app.inject(from('2001:db8:1:3::a'))).statusCode, 200, 'the next /64 has its own')
  t.equal((await app.inject(from('10.0.0.1'))).statusCode, 200)
  t.equal((await app.inject(from('::ffff:10.0.0.1'))).statusCode, 429, 'an IPv4 client seen through a dual-stack socket is the same client')

  const each = await build(t, { RATE_LIMIT_MAX: 1, IPV6_SUBNET: 128 })
  t.equal((await each.inject(from('2001:db8:1:2::a'))).statusCode, 200)
  t.equal((await each.inject(from('2001:db8:1:2::b'))).statusCode, 200, 'IPV6_SUBNET=128: each address on its own')
  t.equal((await each.inject(from('2001:db8:1:2:0:0:0:a'))).statusCode, 429, 'the same address written another way')
  t.equal(each.config.IPV6_SUBNET, 128)
  t.equal(app.config.IPV6_SUBNET, 64, 'the default')
})

t.test('over real sockets behind a proxy: one /64 holds at most WS_MAX_CONNECTIONS_PER_ADDRESS connections', async (t) => {
  const { wsUrl } = await listen(t, { TRUST_PROXY: '127.0.0.1', WS_MAX_CONNECTIONS_PER_ADDRESS: 1 })
  const via = (client: string) => ({ headers: { 'x-forwarded-for': client } })
  await Client.open(`${wsUrl}/ws`, t, via('2001:db8:1:2::a'))
  const refused = await refusedUpgrade(`${wsUrl}/ws`, via('2001:db8:1:2::b'))
  t.equal(refused.status, 429)
  t.match(refused.body, { code: 'ADDRESS_CONNECTION_LIMIT' })
  await Client.open(`${wsUrl}/ws`, t, via('2001:db8:1:3::a'))
  t.pass('the next /64 connects')
})

t.test('X-Forwarded-For is believed only from a TRUST_PROXY address', async (t) => {
  const from = (peer: string, client: string) => ({ ...post, remoteAddress: peer, headers: { 'x-forwarded-for': client } })
  const direct = await build(t, { RATE_LIMIT_MAX: 1 })
  t.equal((await direct.inject(from('10.9.9.9', '1.1.1.1'))).statusCode, 200)
  t.equal((await direct.inject(from('10.9.9.9', '2.2.2.2'))).statusCode, 429, 'by default X-Forwarded-For is ignored: one budget for the proxy')

  const proxied = await build(t, { RATE_LIMIT_MAX: 1, TRUST_PROXY: '10.9.9.0/24' })
  t.equal((await proxied.inject(from('10.9.9.9', '1.1.1.1'))).statusCode, 200)
  t.equal((await proxied.inject(from('10.9.9.8', '2.2.2.2'))).statusCode, 200, 'another client behind a trusted proxy')
  t.equal((await proxied.inject(from('10.9.9.9', '1.1.1.1'))).statusCode, 429, 'the client has its own budget')
  t.equal((await proxied.inject(from('10.9.9.9', '1.1.1.1, 10.9.9.7'))).statusCode, 429, 'trusted proxies in the chain are skipped')
  t.equal((await proxied.inject(from('10.9.9.9', '3.3.3.3, 2.2.2.2'))).statusCode, 429, 'a forged left-most entry changes nothing')

  // A client that reaches the server directly chooses its X-Forwarded-For: ignored.
  t.equal((await proxied.inject(from('6.6.6.6', '4.4.4.4'))).statusCode, 200)
  t.equal((await proxied.inject(from('6.6.6.6', '5.5.5.5'))).statusCode, 429, 'an untrusted peer keeps its own address')
})

t.test('over a real socket: request.ip is the forwarded address only when the peer is trusted', async (t) => {
  const seen = async (trust: string): Promise<string> => {
    let ip = ''
    const { fastify } = await buildLogged(t, { TRUST_PROXY: trust }, (app) => {
      app.addHook('onResponse', async (request) => { ip = request.ip })
    })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const { port } = fastify.server.address() as { port: number }
    const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
    t.equal(res.status, 200)
    return ip
  }
  t.equal(await seen('127.0.0.1'), '203.0.113.7', 'loopback peer trusted')
  t.equal(await seen('loopback'), '203.0.113.7', 'by range name')
  t.equal(await seen('10.0.0.1'), '127.0.0.1', 'loopback peer not trusted: its own address')
  t.equal(await seen(''), '127.0.0.1')
})

t.test('WebSocket upgrades count against the same limit, refused before the upgrade', async (t) => {
  const { wsUrl } = await listen(t, { RATE_LIMIT_MAX: 2, RATE_LIMIT_WINDOW: '60000' })
  await Client.open(`${wsUrl}/ws`, t)
  await Client.open(`${wsUrl}/ws`, t)
  const refused = await refusedUpgrade(`${wsUrl}/ws`)
  t.equal(refused.status, 429)
  t.match(refused.body, { statusCode: 429, error: 'Too Many Requests' })
})

t.test('defaults: 300 per minute', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: undefined })
  t.equal(app.config.RATE_LIMIT_MAX, 300)
  t.equal(app.config.RATE_LIMIT_WINDOW, '1 minute')
  t.equal(timeWindow('60000'), 60000)
  t.equal(timeWindow('1 minute'), '1 minute')
})
