import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, buildLogged, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { WAIT_MS, waitFor } from './helpers/wait'
import { StreamClient } from './helpers/stream-client'
import { mockTimers } from './helpers/clock'
import { bearer, JWT_SECRET, signJwt, tokensFile, type FileEntry } from './helpers/credentials'
import { redisEnv, redisTest, cluster } from './helpers/redis'
import { hashToken } from '../plugins/core/credentials'

const token = (): string => randomBytes(24).toString('base64url')

t.test('removing an entry from TOKENS_FILE closes its sockets (1008 "token revoked"), and only its own', async (t) => {
  const old = token()
  const rolled = token()
  const other = token()
  const tokens = tokensFile(t, [
    { name: 'lobby', scopes: ['subscribe'], token: old },
    { name: 'lobby', scopes: ['subscribe'], token: rolled },
    { name: 'script', scopes: ['publish', 'subscribe'], token: other }
  ])
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: tokens.path })
  const revoked = await Client.open(`${wsUrl}/ws?token=${old}`, t)
  const kept = await Client.open(`${wsUrl}/ws?token=${rolled}`, t)
  const unrelated = await Client.open(`${wsUrl}/ws`, t, { headers: bearer(other) })
  const url = wsUrl.replace('ws:', 'http:')
  const revokedSse = await StreamClient.open(`${url}/events?token=${old}`, t)
  const revokedNdjson = await StreamClient.open(`${url}/events?format=ndjson`, t, bearer(old))
  const keptSse = await StreamClient.open(`${url}/events`, t, bearer(rolled))
  t.equal(fastify.fanout.size, 6)

  // A new token is rolled out (already in the file) and the old one taken out.
  const added = token()
  tokens.write([
    { name: 'lobby', scopes: ['subscribe'], token: rolled },
    { name: 'script', scopes: ['publish', 'subscribe'], token: other },
    { name: 'display-2', scopes: ['subscribe'], token: added }
  ])
  t.same(await revoked.closed, { code: 1008, reason: 'token revoked' }, 'closed when the file changed, without a signal')
  await revokedSse.ended
  await revokedNdjson.ended
  t.pass('its SSE and NDJSON streams ended too')
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(old) })).statusCode, 401)
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(added) })).statusCode, 200, 'an added entry works without a restart')
  // The others stay connected and keep receiving.
  unrelated.send({ sender: 's', message: 'still here' })
  t.match(await kept.next(), { type: 'chat', sender: 'script', message: 'still here' })
  t.match(await unrelated.next(), { type: 'chat', message: 'still here' })
  t.match((await keptSse.next()).data, { type: 'chat', message: 'still here' }, 'the stream of the token kept goes on')
  t.equal(fastify.fanout.size, 3)
})

t.test('a reload judges each open connection by its entry as it now stands: expired or without subscribe is closed, lost publish stops its chat at once', async (t) => {
  const narrowed = token()
  const demoted = token()
  const lapsed = token()
  const steady = token()
  const entries = (changed: boolean): FileEntry[] => [
    { name: 'narrowed', scopes: changed ? ['subscribe'] : ['admin'], token: narrowed },
    { name: 'demoted', scopes: changed ? ['metrics'] : ['subscribe'], token: demoted },
    { name: 'lapsed', scopes: ['subscribe', 'publish'], token: lapsed, ...(changed ? { expires: '2020-01-01T00:00:00Z' } : {}) },
    { name: 'steady', scopes: ['subscribe', 'publish'], token: steady }
  ]
  const tokens = tokensFile(t, entries(false))
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: tokens.path })
  const url = wsUrl.replace('ws:', 'http:')
  const chatter = await Client.open(`${wsUrl}/ws?token=${narrowed}`, t)
  const subscriber = await Client.open(`${wsUrl}/ws?token=${demoted}`, t)
  const subscriberStream = await StreamClient.open(`${url}/events?format=ndjson&types=alert&token=${demoted}`, t)
  const expiring = await Client.open(`${wsUrl}/ws?token=${lapsed}`, t)
  const expiringStream = await StreamClient.open(`${url}/events?types=alert&token=${lapsed}`, t)
  const kept = await Client.open(`${wsUrl}/ws?token=${steady}`, t)
  chatter.send({ sender: 'x', message: 'while admin' })
  t.match(await kept.next(), { type: 'chat', sender: 'narrowed', message: 'while admin' }, 'it may chat before the reload')
  t.match(await chatter.next(), { type: 'chat', message: 'while admin' })

  const changed = new Promise<void>((resolve) => fastify.credentials.onChange(resolve))
  tokens.write(entries(true))
  await changed
  t.same(await subscriber.closed, { code: 1008, reason: 'token no longer has the subscribe scope' })
  t.match((await subscriberStream.next()).data, { type: 'error', code: 'forbidden', message: 'token no longer has the subscribe scope: the stream ends' }, 'the stream says why it ends')
  await subscriberStream.ended
  t.same(await expiring.closed, { code: 1008, reason: 'token expired' }, 'an entry given a past expires')
  t.match((await expiringStream.next()).data, { type: 'error', code: 'forbidden', message: 'token expired: the stream ends' })
  await expiringStream.ended

  // Still subscribed, no longer publishing: listens on, its chat refused from the first frame after the reload.
  chatter.send({ sender: 'x', message: 'after the reload' })
  t.match(await chatter.next(), { type: 'error', code: 'forbidden' })
  kept.send({ sender: 'y', message: 'still allowed' })
  t.match(await chatter.next(), { type: 'chat', sender: 'steady', message: 'still allowed' }, 'it still receives, and the refused chat was never sent')
  t.match(await kept.next(), { type: 'chat', message: 'still allowed' })
  t.equal(fastify.fanout.size, 2)
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(demoted) })).statusCode, 403)
})

t.test('the periodic sweep closes a connection when the expires its entry was given on a reload passes', async (t) => {
  const { clock, timers } = mockTimers()
  const value = token()
  const tokens = tokensFile(t, [{ name: 'temp', scopes: ['subscribe'], token: value }])
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: tokens.path, WS_HEARTBEAT_MS: 0 }, { timers })
  const client = await Client.open(`${wsUrl}/ws?token=${value}`, t)
  const changed = new Promise<void>((resolve) => fastify.credentials.onChange(resolve))
  tokens.write([{ name: 'temp', scopes: ['subscribe'], token: value, expires: new Date(clock.now() + 5000).toISOString() }])
  await changed
  clock.advance(4000)
  t.equal(fastify.fanout.size, 1, 'not before its new time')
  clock.advance(1000)
  t.same(await client.closed, { code: 1008, reason: 'token expired' })
})

t.test('SIGHUP re-reads TOKENS_FILE (a symlink to a file in another directory)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tokens-target-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const target = join(dir, 'real.json')
  const value = token()
  writeFileSync(target, JSON.stringify([{ name: 'lobby', scopes: ['subscribe'], hash: hashToken(value) }]))
  const link = mkdtempSync(join(tmpdir(), 'tokens-link-'))
  t.teardown(() => rmSync(link, { recursive: true, force: true }))
  symlinkSync(target, join(link, 'tokens.json'))
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: join(link, 'tokens.json') })
  const client = await Client.open(`${wsUrl}/ws?token=${value}`, t)
  writeFileSync(target, '[]')
  const changed = new Promise<void>((resolve) => fastify.credentials.onChange(resolve))
  process.kill(process.pid, 'SIGHUP')
  await changed
  t.same(await client.closed, { code: 1008, reason: 'token revoked' })
  t.equal(fastify.credentials.size, 0)
})

t.test('a Kubernetes-style update (its ..data symlink swapped to a new directory) is seen without a signal; a re-read of the same text changes nothing', async (t) => {
  // The layout of a mounted Secret or ConfigMap: tokens.json -> ..data/tokens.json, ..data -> a timestamped directory.
  const dir = mkdtempSync(join(tmpdir(), 'tokens-mounted-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const version = (name: string, value: string): void => {
    mkdirSync(join(dir, name))
    writeFileSync(join(dir, name, 'tokens.json'), JSON.stringify([{ name: 'lobby', scopes: ['subscribe'], hash: hashToken(value) }]))
  }
  const first = token()
  version('..2026_11_27_10_00_00.1', first)
  symlinkSync('..2026_11_27_10_00_00.1', join(dir, '..data'))
  symlinkSync(join('..data', 'tokens.json'), join(dir, 'tokens.json'))
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: join(dir, 'tokens.json') })
  let changes = 0
  fastify.credentials.onChange(() => { changes++ })
  t.equal(await fastify.credentials.reload(), true)
  t.equal(changes, 0, 'the same text: no change, no listener called')
  const client = await Client.open(`${wsUrl}/ws?token=${first}`, t)

  const second = token()
  version('..2026_11_27_10_05_00.2', second)
  const changed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the swap of ..data was not seen')) }, WAIT_MS)
    fastify.credentials.onChange(() => { clearTimeout(timer); resolve() })
  })
  // What the kubelet does: a new link beside the old one, renamed over it in one step.
  symlinkSync('..2026_11_27_10_05_00.2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  await changed
  t.same(await client.closed, { code: 1008, reason: 'token revoked' })
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(first) })).statusCode, 401)
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(second) })).statusCode, 200, 'the new token works without a restart')
})

t.test('an entry that expires closes its sockets (1008 "token expired") and is refused from then on', async (t) => {
  const { clock, timers } = mockTimers()
  const soon = token()
  const later = token()
  const tokens = tokensFile(t, [
    { name: 'temp', scopes: ['subscribe'], token: soon, expires: new Date(clock.now() + 5000).toISOString() },
    { name: 'long', scopes: ['subscribe'], token: later, expires: new Date(clock.now() + 3_600_000).toISOString() }
  ])
  const { fastify, wsUrl } = await listen(t, { TOKENS_FILE: tokens.path, WS_HEARTBEAT_MS: 0 }, { timers })
  const expiring = await Client.open(`${wsUrl}/ws?token=${soon}`, t)
  const staying = await Client.open(`${wsUrl}/ws?token=${later}`, t)
  const expiringStream = await StreamClient.open(`${wsUrl.replace('ws:', 'http:')}/events?token=${soon}`, t)
  clock.advance(4000)
  t.equal(fastify.fanout.size, 3, 'not before its time')
  clock.advance(1000)
  t.same(await expiring.closed, { code: 1008, reason: 'token expired' })
  await expiringStream.ended
  t.equal(fastify.fanout.size, 1, 'its stream ended too')
  t.equal(staying.socket.readyState, staying.socket.OPEN)
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(soon) })).statusCode, 401)
})

t.test('a socket opened with a JWT is closed (1008 "token expired") when the JWT expires', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { JWT_SECRET, WS_HEARTBEAT_MS: 0 }, { timers })
  const exp = Math.floor(clock.now() / 1000) + 60
  const jwt = signJwt({ sub: 'ana', scope: 'subscribe', exp }, JWT_SECRET)
  const client = await Client.open(`${wsUrl}/ws`, t, { headers: bearer(jwt) })
  clock.advance(59_000)
  t.equal(fastify.fanout.size, 1)
  clock.advance(1000)
  t.same(await client.closed, { code: 1008, reason: 'token expired' })
  const refused = await fastify.inject({ url: '/alerts', headers: bearer(jwt) })
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'TOKEN_EXPIRED')
})

t.test('a bad TOKENS_FILE is reported once however often it is read, and again at SIGHUP', async (t) => {
  const value = token()
  const tokens = tokensFile(t, [{ name: 'lobby', scopes: ['subscribe'], token: value }])
  const { fastify, lines } = await buildLogged(t, { TOKENS_FILE: tokens.path })
  const refusals = (): unknown[] => lines.filter((line) => line.msg === 'TOKENS_FILE not reloaded: the previous entries stay in force')
  tokens.write('{"half": ')
  await waitFor(() => refusals().length === 1)
  t.equal(await fastify.credentials.reload(), false)
  t.equal(await fastify.credentials.reload(), false)
  t.equal(refusals().length, 1, 'the same problem is not reported again (a log written beside the file once re-read it at every line)')
  process.emit('SIGHUP', 'SIGHUP')
  await waitFor(() => refusals().length === 2)
  t.match(refusals()[1], { problem: 'not valid JSON' }, 'SIGHUP reports it again')
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(value) })).statusCode, 200, 'the previous entries stay')
})

t.test('a file that turns bad keeps the entries before it; a bad file stops the start', async (t) => {
  const value = token()
  const tokens = tokensFile(t, [{ name: 'lobby', scopes: ['subscribe'], token: value }])
  const { fastify, lines } = await buildLogged(t, { TOKENS_FILE: tokens.path })
  for (const bad of ['{"half": ', '{}', '[{"name":"x","scopes":["subscribe"],"token":"plain"}]']) {
    tokens.write(bad)
    t.equal(await fastify.credentials.reload(), false, bad)
    t.equal((await fastify.inject({ url: '/alerts', headers: bearer(value) })).statusCode, 200, 'the previous entries stay')
  }
  t.ok(lines.some((line) => line.msg === 'TOKENS_FILE not reloaded: the previous entries stay in force'))
  t.notOk(JSON.stringify(lines).includes('plain'), 'a token put in the file by mistake is not logged')
  rmSync(tokens.path)
  t.equal(await fastify.credentials.reload(), false, 'a missing file keeps the entries too')

  const broken = tokensFile(t, [])
  broken.write('[{"name": "x", "scopes": ["root"], "hash": "sha256:00"}]')
  await t.rejects(build(t, { TOKENS_FILE: broken.path }), /TOKENS_FILE .*entry 0: unknown scope "root"/)
  await t.rejects(build(t, { TOKENS_FILE: join(tmpdir(), 'no-such-dir', 'tokens.json') }), /cannot be read \(ENOENT\)/)
})

t.test('reloads in a burst are read one at a time, the last one included', async (t) => {
  const first = token()
  const second = token()
  const tokens = tokensFile(t, [{ name: 'a', scopes: ['subscribe'], token: first }])
  const fastify = await build(t, { TOKENS_FILE: tokens.path })
  let changes = 0
  fastify.credentials.onChange(() => { changes++ })
  const one = fastify.credentials.reload()
  tokens.write([{ name: 'b', scopes: ['subscribe'], token: second }])
  const two = fastify.credentials.reload()
  t.same(await Promise.all([one, two]), [true, true])
  t.ok(changes >= 1 && changes <= 2)
  t.equal((await fastify.inject({ url: '/alerts', headers: bearer(second) })).statusCode, 200, 'the last write is the one in force')
})

redisTest('two instances on Redis both close a revoked token\'s sockets', async (t) => {
  const value = token()
  const kept = token()
  const tokens = tokensFile(t, [{ name: 'lobby', scopes: ['subscribe'], token: value }, { name: 'ops', scopes: ['subscribe', 'publish'], token: kept }])
  const [a, b] = await cluster(t, 2, redisEnv(t, { TOKENS_FILE: tokens.path }))
  if (a === undefined || b === undefined) throw new Error('no cluster')
  const onA = await Client.open(`${a.wsUrl}/ws?token=${value}`, t)
  const onB = await Client.open(`${b.wsUrl}/ws?token=${value}`, t)
  const stays = await Client.open(`${b.wsUrl}/ws?token=${kept}`, t)
  tokens.write([{ name: 'ops', scopes: ['subscribe', 'publish'], token: kept }])
  t.same(await onA.closed, { code: 1008, reason: 'token revoked' })
  t.same(await onB.closed, { code: 1008, reason: 'token revoked' })
  // The cluster still works for the token that stayed: a chat on A reaches B.
  const chat = await a.fastify.inject({ method: 'POST', url: '/message', headers: bearer(kept), payload: { sender: 'x', message: 'after' } })
  t.equal(chat.json().sender, 'ops')
  t.match(await stays.next(), { type: 'chat', message: 'after' })
})
