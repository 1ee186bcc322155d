import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import {
  createCredentials, hashToken, looksLikeJwt, parseTokensFile, readClaims, readScopes, sameToken, scopeAllows
} from '../plugins/core/credentials'
import { SCOPES } from '../schemas/identity'
import { makeToken, newToken } from '../scripts/token'
import { loadConfig } from '../plugins/app/config'
import { createFanout } from '../plugins/core/fanout'

const HASH = hashToken('secret')

t.test('scopes: admin allows everything, the others only themselves', async (t) => {
  for (const scope of SCOPES) {
    t.ok(scopeAllows(['admin'], scope), `admin allows ${scope}`)
    t.ok(scopeAllows([scope], scope))
  }
  t.notOk(scopeAllows(['subscribe'], 'publish'))
  t.notOk(scopeAllows(['metrics'], 'subscribe'))
  t.notOk(scopeAllows([], 'subscribe'))
  t.same(readScopes(['publish', 'publish'], 'e'), ['publish'])
  t.match(readScopes([], 'e'), /non-empty list/)
  t.match(readScopes('admin', 'e'), /non-empty list/)
})

t.test('TOKENS_FILE: entries are checked, and one bad entry refuses the file', async (t) => {
  const entry = { name: 'lobby', scopes: ['subscribe'], hash: HASH }
  t.same(parseTokensFile(JSON.stringify([entry])), [entry])
  t.same(parseTokensFile('[]'), [])
  t.same(parseTokensFile(JSON.stringify([{ ...entry, expires: '2027-01-01T00:00:00Z' }])), [{ ...entry, expires: Date.parse('2027-01-01T00:00:00Z') }])
  t.same(parseTokensFile(JSON.stringify([{ ...entry, expires: '2027-01-01T01:30:00.5+01:30' }])), [{ ...entry, expires: Date.parse('2027-01-01T00:00:00.5Z') }], 'any zone offset, fractions of a second')
  const cases: Array<[unknown, RegExp]> = [
    [{}, /JSON list/],
    [[null], /entry 0: must be an object/],
    [[[1]], /entry 0: must be an object/],
    [[entry, { ...entry, token: 'plain' }], /entry 1: unknown field "token" \(the file holds hashes only/],
    [[{ ...entry, name: '' }], /"name" must be/],
    [[{ ...entry, name: 'a b' }], /"name" must be/],
    [[{ ...entry, name: 'x'.repeat(65) }], /"name" must be/],
    [[{ ...entry, name: 7 }], /"name" must be/],
    [[{ ...entry, scopes: ['root'] }], /unknown scope "root"/],
    [[{ ...entry, scopes: undefined }], /"scopes" must be/],
    [[{ ...entry, hash: 'abc' }], /"hash" must be "sha256:"/],
    [[{ ...entry, hash: HASH.toUpperCase() }], /"hash" must be/],
    [[{ ...entry, expires: 'tomorrow' }], /"expires" must be an ISO 8601/],
    [[{ ...entry, expires: 1700000000 }], /"expires" must be an ISO 8601/],
    [[{ ...entry, expires: '2027-13-45T99:00:00Z' }], /"expires" must be an ISO 8601/],
    [[{ ...entry, expires: '2027-01-01T00:00:00' }], /"expires" must be an ISO 8601 date-time with a time zone/],
    [[{ ...entry, expires: '2027-02-31T00:00:00Z' }], /"expires" must be an ISO 8601 date-time with a time zone, on a real day/],
    [[{ ...entry, expires: '2027-01-01' }], /"expires" must be an ISO 8601/],
    [[{ ...entry, expires: '2027-01-01T25:00:00Z' }], /"expires" must be an ISO 8601/]
  ]
  for (const [value, message] of cases) t.match(parseTokensFile(JSON.stringify(value)), message, JSON.stringify(value))
  t.equal(parseTokensFile('{"half'), 'not valid JSON')
  t.notMatch(parseTokensFile(JSON.stringify([{ ...entry, hash: 'sha256:leaky' }])), /leaky/, 'a hash is never quoted back')
})

t.test('credentials: API_TOKEN, METRICS_TOKEN, entries by hash; expiry and revocation', async (t) => {
  let now = 1000
  const store = createCredentials({ apiToken: 'api-token', metricsToken: 'metrics-token', now: () => now })
  t.match(store.identify('api-token'), { name: 'api', scopes: ['subscribe', 'publish', 'operate', 'admin'], named: false })
  t.match(store.identify('metrics-token'), { name: 'metrics', scopes: ['metrics'], named: false })
  t.equal(store.identify('secret'), undefined)
  store.replace([{ name: 'lobby', scopes: ['subscribe'], hash: HASH, expires: 2000 }])
  t.equal(store.size, 1)
  const identity = store.identify('secret')
  t.match(identity, { name: 'lobby', scopes: ['subscribe'], expires: 2000, credential: HASH, named: true })
  if (identity === undefined) throw new Error('no identity')
  t.equal(store.lapse(identity), undefined)
  now = 2000
  t.equal(store.lapse(identity), 'expired')
  t.equal(store.identify('secret'), undefined, 'an expired entry no longer identifies')
  now = 1500
  store.replace([])
  t.equal(store.lapse(identity), 'revoked')
  t.equal(store.lapse(store.identify('api-token') as NonNullable<typeof identity>), undefined, 'API_TOKEN is never revoked')
  t.equal(store.current(identity), undefined, 'a removed entry has no rights left')

  // The entry as it now stands, not as it was when the identity was handed out.
  store.replace([{ name: 'lobby', scopes: ['metrics'], hash: HASH }])
  t.equal(store.lapse(identity), 'unsubscribed', 'no longer holds subscribe')
  t.match(store.current(identity), { name: 'lobby', scopes: ['metrics'], expires: undefined })
  store.replace([{ name: 'lobby', scopes: ['admin'], hash: HASH }])
  t.equal(store.lapse(identity), undefined, 'admin holds subscribe; an expires removed on a reload no longer applies')
  store.replace([{ name: 'lobby', scopes: ['subscribe'], hash: HASH, expires: 1000 }])
  t.equal(store.lapse(identity), 'expired', 'an expires moved into the past on a reload')
  t.equal(store.current(identity), undefined)

  const none = createCredentials({ apiToken: '', metricsToken: '', now: () => now })
  t.equal(none.identify(''), undefined, 'an empty API_TOKEN matches nothing')
})

t.test('JWT claims: sub, scope and exp required; unknown scopes skipped', async (t) => {
  t.same(readClaims({ sub: 'ana', scope: 'subscribe publish other', exp: 10 }), { name: 'jwt:ana', scopes: ['subscribe', 'publish'], expires: 10000, credential: 'jwt', named: true })
  t.match(readClaims({ scope: 'admin', exp: 1 }), /"sub"/)
  t.match(readClaims({ sub: 'x'.repeat(201), scope: 'admin', exp: 1 }), /"sub"/)
  t.match(readClaims({ sub: 'a', scope: ['admin'], exp: 1 }), /"scope"/)
  t.match(readClaims({ sub: 'a', scope: 'admin', exp: '1' }), /"exp"/)
  // exp and nbf: seconds a Date can hold, or the token is not valid (one rule, wherever a JWT is taken).
  for (const exp of [1e300, -1e300, 8.64e12 + 1, Infinity, NaN]) t.match(readClaims({ sub: 'a', scope: 'admin', exp }), /"exp"/, `exp ${exp}`)
  t.match(readClaims({ sub: 'a', scope: 'admin', exp: 8.64e12 }), { expires: 8.64e15 }, 'the last moment a Date holds')
  for (const nbf of [-1e300, 1e300, '0']) t.match(readClaims({ sub: 'a', scope: 'admin', exp: 10, nbf }), /"nbf"/, `nbf ${String(nbf)}`)
  t.match(readClaims({ sub: 'a', scope: 'admin', exp: 10, nbf: 5 }), { name: 'jwt:a' })
  // sub: the text rules of `by`, on one line, and never the name of a token.
  for (const sub of ['\u200b', 'a\nb', 'ro\u200bot', '\u0000', ' ', '\ud800', 'x'.repeat(197), '']) {
    t.match(readClaims({ sub, scope: 'admin', exp: 10 }), /"sub"/, `sub ${JSON.stringify(sub)}`)
  }
  t.match(readClaims({ sub: 'Ana María 🙂', scope: 'admin', exp: 10 }), { name: 'jwt:Ana María 🙂' })
  t.match(readClaims({ sub: 'x'.repeat(196), scope: 'admin', exp: 10 }), { name: 'jwt:' + 'x'.repeat(196) })
  t.match(parseTokensFile(JSON.stringify([{ name: 'jwt:root', scopes: ['admin'], hash: hashToken('t') }])), /must not start with jwt:/)
  t.match(readClaims(null), /"sub"/)
  t.ok(looksLikeJwt('a.b.c'))
  t.ok(looksLikeJwt('a.b.'))
  t.notOk(looksLikeJwt('abc'))
  t.notOk(looksLikeJwt('a.b'))
  t.ok(sameToken('a', 'a'))
  t.notOk(sameToken('a', 'b'))
  t.notOk(sameToken('', 'abc'))
  t.notOk(sameToken('abc'.repeat(100), 'abc'), 'a longer token is not equal')
})

t.test('npm run token: a random token of 256 bits and the entry holding its hash', async (t) => {
  const made = makeToken(['--name', 'lobby', '--scopes', 'subscribe,publish', '--expires', '2027-01-01T00:00:00Z'], 'fixed')
  t.same(made, { token: 'fixed', entry: { name: 'lobby', scopes: ['subscribe', 'publish'], hash: hashToken('fixed'), expires: '2027-01-01T00:00:00Z' } })
  t.equal(Buffer.from(newToken(), 'base64url').length, 32)
  t.not(newToken(), newToken())
  t.match(makeToken(['--name', 'lobby']), /"scopes" must be/)
  t.match(makeToken(['--scopes', 'admin']), /"name" must be/)
  t.match(makeToken(['--name', 'x', '--scopes', 'admin', '--what']), /Unknown option/)
  t.match(makeToken(['--name', 'x', '--scopes', 'admin', '--expires', 'soon']), /"expires"/)

  const env = { ...process.env, _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./', NODE_OPTIONS: '' }
  const tsx = join(__dirname, '..', 'node_modules', '.bin', 'tsx')
  const run = spawnSync(tsx, [join(__dirname, '..', 'scripts', 'token.ts'), '--name', 'lobby', '--scopes', 'subscribe'], { env, encoding: 'utf8' })
  t.equal(run.status, 0)
  const [, printed, entry] = /shown once[^\n]*\n(\S+)\n[\s\S]*TOKENS_FILE[^\n]*\n(\{.*\})\n$/.exec(run.stdout) ?? []
  t.ok(printed !== undefined && entry !== undefined, run.stdout)
  t.same(JSON.parse(entry ?? '{}'), { name: 'lobby', scopes: ['subscribe'], hash: hashToken(printed ?? '') })
  const wrong = spawnSync(tsx, [join(__dirname, '..', 'scripts', 'token.ts'), '--name', 'lobby'], { env, encoding: 'utf8' })
  t.equal(wrong.status, 2)
  t.match(wrong.stderr, /usage: npm run token/)
})

t.test('configuration: one JWT key, a secret long enough, never quoted', async (t) => {
  t.throws(() => loadConfig({ JWT_SECRET: 'short-secret-value' }), /JWT_SECRET must be at least 32 characters \(got 18\)/)
  t.throws(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), JWT_PUBLIC_KEY: 'pem' }), /JWT_SECRET or JWT_PUBLIC_KEY, not both/)
  try {
    loadConfig({ JWT_SECRET: 'short-secret-value' })
  } catch (err) {
    t.notMatch((err as Error).message, /short-secret-value/)
  }
})

t.test('fanout.dropLapsed closes only subscribers whose credential lapsed', async (t) => {
  const fanout = createFanout({ maxBufferedBytes: 1 << 20, heartbeatMs: 0, direct: false, log: { info () {}, warn () {}, error () {} } as never })
  t.equal(fanout.dropLapsed(() => 'revoked'), 0, 'nobody to drop')
})
