import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { build, buildLogged } from './helpers/app'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { bearer, ecKeys, JWT_SECRET, rsaKeys, signJwt, tokensFile, type FileEntry } from './helpers/credentials'
import { scopeAllows } from '../plugins/core/credentials'
import { SCOPES, type Scope } from '../schemas/identity'
import { errorBody } from '../schemas/errors'

const token = (): string => randomBytes(24).toString('base64url')
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600

interface Credential {
  label: string
  /** The header to send, or none. */
  token?: string
  /** What it may do; undefined: it must be refused with 401. */
  scopes?: Scope[]
  code?: string
}

/**
 * Every kind of credential the server must tell apart: each scope as a
 * TOKENS_FILE entry and as a JWT, API_TOKEN, and everything that must be
 * refused (none, expired, revoked, wrong signature, another algorithm, alg none,
 * a JWT missing a required claim).
 */
function credentials (): { env: Record<string, string>, file: FileEntry[], revoked: FileEntry, list: Credential[] } {
  const api = token()
  const file: FileEntry[] = SCOPES.map((scope) => ({ name: `${scope}-bot`, scopes: [scope], token: token() }))
  const expired: FileEntry = { name: 'old', scopes: ['admin'], token: token(), expires: '2020-01-01T00:00:00Z' }
  const revoked: FileEntry = { name: 'gone', scopes: ['admin'], token: token() }
  const claims = (scope: string): Record<string, unknown> => ({ sub: `jwt-${scope}`, scope, exp: inAnHour() })
  const { privateKey } = rsaKeys()
  const list: Credential[] = [
    { label: 'no token', code: 'TOKEN_REQUIRED' },
    { label: 'API_TOKEN', token: api, scopes: ['admin'] },
    ...file.map((entry) => ({ label: `token with ${entry.scopes[0]}`, token: entry.token, scopes: entry.scopes })),
    ...SCOPES.map((scope) => ({ label: `JWT with ${scope}`, token: signJwt(claims(scope), JWT_SECRET), scopes: [scope] })),
    { label: 'JWT with two scopes and one unknown', token: signJwt(claims('subscribe operate elsewhere:write'), JWT_SECRET), scopes: ['subscribe', 'operate'] },
    { label: 'expired token', token: expired.token, code: 'TOKEN_INVALID' },
    { label: 'revoked token', token: revoked.token, code: 'TOKEN_INVALID' },
    { label: 'unknown token', token: token(), code: 'TOKEN_INVALID' },
    { label: 'empty bearer', token: '', code: 'TOKEN_INVALID' },
    { label: 'expired JWT', token: signJwt({ ...claims('admin'), exp: 1_600_000_000 }, JWT_SECRET), code: 'TOKEN_EXPIRED' },
    { label: 'JWT with a wrong signature', token: signJwt(claims('admin'), 'another-secret-of-at-least-32-chars'), code: 'TOKEN_INVALID' },
    { label: 'JWT signed HS512', token: signJwt(claims('admin'), JWT_SECRET, 'HS512'), code: 'TOKEN_INVALID' },
    { label: 'JWT signed RS256', token: signJwt(claims('admin'), privateKey, 'RS256'), code: 'TOKEN_INVALID' },
    { label: 'JWT with alg none', token: signJwt(claims('admin'), null, 'none'), code: 'TOKEN_INVALID' },
    { label: 'JWT without exp', token: signJwt({ sub: 'x', scope: 'admin' }, JWT_SECRET), code: 'TOKEN_INVALID' },
    { label: 'JWT without scope', token: signJwt({ sub: 'x', exp: inAnHour() }, JWT_SECRET), code: 'TOKEN_INVALID' },
    { label: 'JWT without sub', token: signJwt({ scope: 'admin', exp: inAnHour() }, JWT_SECRET), code: 'TOKEN_INVALID' },
    { label: 'JWT with a blank sub', token: signJwt({ sub: ' ', scope: 'admin', exp: inAnHour() }, JWT_SECRET), code: 'TOKEN_INVALID' },
    { label: 'JWT with a numeric scope', token: signJwt({ sub: 'x', scope: 7, exp: inAnHour() }, JWT_SECRET), code: 'TOKEN_INVALID' },
    { label: 'a tampered JWT', token: tamper(signJwt(claims('subscribe'), JWT_SECRET)), code: 'TOKEN_INVALID' }
  ]
  return { env: { API_TOKEN: api, JWT_SECRET }, file: [...file, expired, revoked], revoked, list }
}

/** The payload of a subscribe JWT rewritten to admin, the signature kept. */
function tamper (jwt: string): string {
  const [head, body, signature] = jwt.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
  return `${head}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${signature}`
}

// Routes of third-party plugins that are public by design: the OpenAPI UI, the
// dashboard's files, and CORS preflights (which never carry credentials).
const THIRD_PARTY_PUBLIC = (route: RouteOptions): boolean => {
  const { url } = route
  return route.method === 'OPTIONS' || url === '/docs' || url.startsWith('/docs/') || url === '/' || /^\/[\w.-]+\.(js|css|svg|html|png)$/.test(url)
}

function recordRoutes (fastify: FastifyInstance, routes: RouteOptions[]): void {
  fastify.addHook('onRoute', (route) => { routes.push(route) })
}

const methodsOf = (route: RouteOptions): string[] => [route.method].flat()

t.test('every registered route declares a scope or is deliberately public', async (t) => {
  const routes: RouteOptions[] = []
  await buildLogged(t, {}, (fastify) => recordRoutes(fastify, routes))
  t.ok(routes.length > 10, 'routes were recorded')
  for (const route of routes) {
    const { scope, public: open, identify } = route.config ?? {}
    const declared = scope !== undefined || open === true || identify === true || THIRD_PARTY_PUBLIC(route)
    t.ok(declared, `${methodsOf(route).join(',')} ${route.url} declares its scope`)
    if (scope !== undefined) t.ok((SCOPES as readonly string[]).includes(scope), `${route.url}: ${scope} is a scope`)
  }
  // The walk itself can fail: a route added without a declaration is caught.
  const extra: RouteOptions[] = []
  await buildLogged(t, {}, (fastify) => {
    recordRoutes(fastify, extra)
    fastify.get('/sneaky', async () => 'x')
  })
  const sneaky = extra.find((route) => route.url === '/sneaky')
  t.equal(sneaky?.config?.scope, undefined, 'an undeclared route is seen as such')
})

t.test('the matrix: every route x every credential, over HTTP', async (t) => {
  const { env, file, revoked, list } = credentials()
  const tokens = tokensFile(t, file)
  const routes: RouteOptions[] = []
  const { fastify: app, text } = await buildLogged(t, { ...env, TOKENS_FILE: tokens.path }, (fastify) => recordRoutes(fastify, routes))
  // Revoked for real: the entry is in the file at start-up and taken out.
  tokens.write(file.filter((entry) => entry !== revoked))
  t.ok(await app.credentials.reload())

  const guarded = routes.filter((route) => route.config?.scope !== undefined)
  t.ok(guarded.length >= 9, `${guarded.length} guarded routes`)
  let checked = 0
  for (const route of guarded) {
    const scope = route.config?.scope as Scope
    for (const method of methodsOf(route)) {
      // A stream (GET /events) is asked for a poll, which ends once the history is sent.
      const url = route.url.replace(':id', randomUUID()) + (route.config?.stream === true ? '?poll=1' : '')
      for (const credential of list) {
        const headers = credential.token === undefined ? {} : bearer(credential.token)
        const res = await app.inject({ method: method as 'GET', url, headers, ...(method === 'POST' ? { payload: {} } : {}) })
        const where = `${method} ${route.url} with ${credential.label}`
        checked++
        if (credential.token !== undefined && credential.token !== '') t.notOk(res.body.includes(credential.token), `${where}: the token is not in the answer`)
        if (route.config?.bodyToken !== undefined && (credential.scopes === undefined || !scopeAllows(credential.scopes, scope))) {
          // PagerDuty's endpoint answers a routing key that does not work as PagerDuty does: 400, this server's code beside it.
          t.equal(res.statusCode, 400, where)
          t.match(res.json(), { status: 'invalid event', errors: [/^Invalid routing key/], code: credential.scopes === undefined ? credential.code : 'SCOPE_MISSING' }, where)
        } else if (credential.scopes === undefined) {
          t.equal(res.statusCode, 401, where)
          if (method !== 'HEAD') t.equal(res.json().code, credential.code, where)
          t.equal(res.headers['www-authenticate'], 'Bearer', where)
        } else if (!scopeAllows(credential.scopes, scope)) {
          t.equal(res.statusCode, 403, where)
          if (method !== 'HEAD') t.same(res.json(), errorBody('SCOPE_MISSING', `this needs the ${scope} scope, which this token does not have`), where)
        } else {
          t.notOk([401, 403].includes(res.statusCode), `${where}: ${res.statusCode}`)
        }
      }
    }
  }
  t.ok(checked > 200, `${checked} requests`)
  // A revoked token, an unknown one and an expired entry are answered alike: no hint whether a name exists.
  const answer = async (value: string): Promise<string> => (await app.inject({ url: '/alerts', headers: bearer(value) })).body
  t.equal(await answer(revoked.token), await answer(token()))
  t.equal(await answer((file.find((entry) => entry.name === 'old') as FileEntry).token), await answer(token()))

  const logs = text()
  for (const credential of list) {
    if (credential.token !== undefined && credential.token !== '') t.notOk(logs.includes(credential.token), `${credential.label} is not in the logs`)
  }
  const metrics = (await app.inject({ url: '/metrics', headers: bearer(env.API_TOKEN as string) })).body
  for (const credential of list) {
    if (credential.token !== undefined && credential.token !== '') t.notOk(metrics.includes(credential.token), `${credential.label} is not in the metrics`)
  }
})

t.test('the matrix over the WebSocket: the upgrade needs subscribe, chat needs publish', async (t) => {
  const { env, file, revoked, list } = credentials()
  const tokens = tokensFile(t, file)
  const app = await build(t, { ...env, TOKENS_FILE: tokens.path })
  tokens.write(file.filter((entry) => entry !== revoked))
  await app.credentials.reload()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const url = `ws://127.0.0.1:${port}/ws`
  for (const credential of list) {
    const where = `/ws with ${credential.label}`
    const target = credential.token === undefined ? url : `${url}?token=${encodeURIComponent(credential.token)}`
    if (credential.scopes === undefined || !scopeAllows(credential.scopes, 'subscribe')) {
      const refused = await refusedUpgrade(target)
      t.equal(refused.status, credential.scopes === undefined ? 401 : 403, where)
      t.equal(refused.body.code, credential.code ?? 'SCOPE_MISSING', where)
      continue
    }
    const client = await Client.open(target, t)
    client.send({ sender: 'Jose', message: `from ${credential.label}` })
    const frame = await client.next()
    if (scopeAllows(credential.scopes, 'publish')) {
      t.match(frame, { type: 'chat', message: `from ${credential.label}` }, `${where}: chat sent`)
    } else {
      t.match(frame, { type: 'error', code: 'forbidden', message: /publish scope/ }, `${where}: chat refused`)
    }
    client.socket.close()
    await client.closed
  }
})

t.test('the identity names chat senders and acknowledgers; a client-supplied name is ignored', async (t) => {
  const lobby = token()
  const ops = token()
  const tokens = tokensFile(t, [{ name: 'lobby', scopes: ['subscribe', 'publish'], token: lobby }, { name: 'maria', scopes: ['operate', 'publish'], token: ops }])
  const api = token()
  const app = await build(t, { TOKENS_FILE: tokens.path, API_TOKEN: api, JWT_SECRET })
  const chat = await app.inject({ method: 'POST', url: '/message', headers: bearer(lobby), payload: { sender: 'Jose', message: 'hi' } })
  t.equal(chat.json().sender, 'lobby')
  const jwt = signJwt({ sub: 'ana@example.com', scope: 'publish', exp: inAnHour() }, JWT_SECRET)
  t.equal((await app.inject({ method: 'POST', url: '/message', headers: bearer(jwt), payload: { sender: 'Jose', message: 'hi' } })).json().sender, 'jwt:ana@example.com')
  // The shared API_TOKEN names nobody: the client's sender stays, as before credentials.
  t.equal((await app.inject({ method: 'POST', url: '/message', headers: bearer(api), payload: { sender: 'Jose', message: 'hi' } })).json().sender, 'Jose')

  const raised = (await app.inject({ method: 'POST', url: '/alerts', headers: bearer(ops), payload: { message: 'm', location: 'l', key: 'k' } })).json()
  const acked = await app.inject({ method: 'POST', url: `/alerts/${raised.id as string}/ack`, headers: bearer(ops), payload: { by: 'somebody else' } })
  t.equal(acked.json().acknowledgedBy, 'maria')
  const resolved = await app.inject({ method: 'POST', url: '/alerts/resolve', headers: bearer(ops), payload: { key: 'k' } })
  t.equal(resolved.json().resolvedBy, 'maria')
  const other = (await app.inject({ method: 'POST', url: '/alerts', headers: bearer(api), payload: { message: 'm', location: 'l' } })).json()
  t.equal((await app.inject({ method: 'POST', url: `/alerts/${other.id as string}/ack`, headers: bearer(api), payload: { by: 'Jose' } })).json().acknowledgedBy, 'Jose')

  // A JWT whose sub is a token's name is someone else: jwt:<sub>, in what it does and in its rate-limit key.
  const root = signJwt({ sub: 'maria', scope: 'operate publish', exp: inAnHour() }, JWT_SECRET)
  const third = (await app.inject({ method: 'POST', url: '/alerts', headers: bearer(ops), payload: { message: 'm', location: 'l' } })).json()
  t.equal((await app.inject({ method: 'POST', url: `/alerts/${third.id as string}/ack`, headers: bearer(root) })).json().acknowledgedBy, 'jwt:maria')
  t.equal((await app.inject({ url: '/whoami', headers: bearer(root) })).json().name, 'jwt:maria')

  // Over the WebSocket too.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = await Client.open(`ws://127.0.0.1:${port}/ws`, t, { headers: bearer(lobby) })
  client.send({ sender: 'Jose', message: 'over ws' })
  t.match(await client.next(), { type: 'chat', sender: 'lobby', message: 'over ws' })
})

t.test('GET /whoami answers the identity and scopes', async (t) => {
  const lobby = token()
  const tokens = tokensFile(t, [{ name: 'lobby', scopes: ['subscribe'], token: lobby, expires: '2999-01-01T00:00:00Z' }])
  const app = await build(t, { TOKENS_FILE: tokens.path, JWT_SECRET })
  t.same((await app.inject({ url: '/whoami', headers: bearer(lobby) })).json(), { name: 'lobby', scopes: ['subscribe'], expires: '2999-01-01T00:00:00.000Z', named: true, open: false })
  const exp = inAnHour()
  t.same((await app.inject({ url: '/whoami', headers: bearer(signJwt({ sub: 'ana', scope: 'operate publish', exp }, JWT_SECRET)) })).json(),
    { name: 'jwt:ana', scopes: ['operate', 'publish'], expires: new Date(exp * 1000).toISOString(), named: true, open: false })
  // A date out of a Date's range is no date: the token is refused, never a 500.
  for (const claims of [{ exp: 1e300 }, { exp: inAnHour(), nbf: -1e300 }]) {
    const res = await app.inject({ url: '/whoami', headers: bearer(signJwt({ sub: 'ana', scope: 'admin', ...claims }, JWT_SECRET)) })
    t.equal(res.statusCode, 401, JSON.stringify(claims))
    t.equal(res.json().code, 'TOKEN_INVALID')
  }
  const missing = await app.inject('/whoami')
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'TOKEN_REQUIRED')
  t.equal((await app.inject({ url: '/whoami', headers: bearer('nope') })).statusCode, 401)

  const open = await build(t)
  t.same((await open.inject('/whoami')).json(), { name: null, scopes: [...SCOPES], named: false, open: true })
  const api = await build(t, { API_TOKEN: 'the-api-token' })
  t.same((await api.inject({ url: '/whoami', headers: bearer('the-api-token') })).json(), { name: 'api', scopes: ['subscribe', 'publish', 'operate', 'admin'], named: false, open: false })
})

t.test('JWT_PUBLIC_KEY: RS256 for an RSA key, ES256 for a P-256 key, nothing else', async (t) => {
  for (const [alg, keys] of [['RS256', rsaKeys()], ['ES256', ecKeys()]] as const) {
    const app = await build(t, { JWT_PUBLIC_KEY: keys.publicPem })
    const claims = { sub: 'issuer-user', scope: 'subscribe', exp: inAnHour() }
    const good = await app.inject({ url: '/alerts', headers: bearer(signJwt(claims, keys.privateKey, alg)) })
    t.equal(good.statusCode, 200, `${alg} verifies`)
    const other = alg === 'RS256' ? ecKeys() : rsaKeys()
    for (const [label, jwt] of [
      ['another key', signJwt(claims, (alg === 'RS256' ? rsaKeys() : ecKeys()).privateKey, alg)],
      ['another algorithm', signJwt(claims, other.privateKey, alg === 'RS256' ? 'ES256' : 'RS256')],
      ['HS256 with the public key as secret', signJwt(claims, keys.publicPem, 'HS256')],
      ['alg none', signJwt(claims, null, 'none')]
    ] as const) {
      t.equal((await app.inject({ url: '/alerts', headers: bearer(jwt) })).statusCode, 401, `${alg}: ${label} refused`)
    }
  }
  await t.rejects(build(t, { JWT_PUBLIC_KEY: 'not a key' }), /JWT_PUBLIC_KEY is not a PEM public key/)
  const { publicKey } = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
  await t.rejects(build(t, { JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString() }), /RSA key \(RS256\) or a P-256/)
})

t.test('rate limits follow a named identity, and stay per address without one', async (t) => {
  const one = token()
  const two = token()
  const tokens = tokensFile(t, [{ name: 'one', scopes: ['publish'], token: one }, { name: 'two', scopes: ['publish'], token: two }])
  const app = await build(t, { TOKENS_FILE: tokens.path, RATE_LIMIT_MAX: 2 })
  const post = async (value: string, address: string): Promise<number> =>
    (await app.inject({ method: 'POST', url: '/message', headers: bearer(value), remoteAddress: address, payload: { sender: 's', message: 'm' } })).statusCode
  t.equal(await post(one, '10.0.0.1'), 200)
  t.equal(await post(one, '10.0.0.2'), 200, 'another address, the same identity')
  t.equal(await post(one, '10.0.0.3'), 429, 'the identity\'s budget is spent, whatever its address')
  t.equal(await post(two, '10.0.0.1'), 200, 'another identity from the same address has its own')

  const shared = await build(t, { API_TOKEN: 'shared-token', RATE_LIMIT_MAX: 1 })
  const postShared = async (address: string): Promise<number> =>
    (await shared.inject({ method: 'POST', url: '/message', headers: bearer('shared-token'), remoteAddress: address, payload: { sender: 's', message: 'm' } })).statusCode
  t.equal(await postShared('10.0.0.1'), 200)
  t.equal(await postShared('10.0.0.2'), 200, 'API_TOKEN names nobody: per address, as before')
  t.equal(await postShared('10.0.0.1'), 429)
})

t.test('the OpenAPI document declares each route\'s scope', async (t) => {
  const tokens = tokensFile(t, [])
  const doc = (await (await build(t, { TOKENS_FILE: tokens.path })).inject('/docs/json')).json()
  t.same(doc.paths['/alerts'].post.security, [{ bearerAuth: ['publish'] }])
  t.same(doc.paths['/alerts'].get.security, [{ bearerAuth: ['subscribe'] }])
  t.same(doc.paths['/alerts/{id}/ack'].post.security, [{ bearerAuth: ['operate'] }])
  t.same(doc.paths['/metrics'].get.security, [{ bearerAuth: ['metrics'] }])
  t.same(doc.paths['/whoami'].get.security, [{ bearerAuth: [] }])
  t.same(doc.paths['/health'].get.security, [])
  t.match(doc.paths['/alerts'].post.description, /Scope: `publish` \(or admin\)\./)
  t.match(doc.components.securitySchemes.bearerAuth.description, /subscribe.*publish.*operate.*admin/)
  const open = (await (await build(t)).inject('/docs/json')).json()
  t.same(open.paths['/alerts'].post.security, [{}, { bearerAuth: ['publish'] }], 'open server: the token is optional')
})

t.test('the start-up log says in one line whether credentials are required', async (t) => {
  const open = await buildLogged(t)
  await open.fastify.listen({ port: 0, host: '127.0.0.1' })
  t.equal(open.lines.filter((line) => /every route is open/.test(line.msg as string)).length, 1)
  const tokens = tokensFile(t, [{ name: 'a', scopes: ['subscribe'], token: token() }])
  const closed = await buildLogged(t, { TOKENS_FILE: tokens.path, JWT_SECRET })
  await closed.fastify.listen({ port: 0, host: '127.0.0.1' })
  t.match(closed.lines.find((line) => line.msg === 'credentials required'), { api: false, metrics: false, tokens: 1, jwt: true })
  t.notOk(closed.lines.some((line) => /every route is open/.test(line.msg as string)))
})

t.test('a static token shaped like a JWT still works when JWTs are accepted; ?token= only where a route allows it', async (t) => {
  const jwtShaped = 'aaaa.bbbb.cccc'
  const app = await build(t, { API_TOKEN: jwtShaped, JWT_SECRET })
  t.equal((await app.inject({ url: '/alerts', headers: bearer(jwtShaped) })).statusCode, 200)
  t.equal((await app.inject({ url: '/alerts', headers: bearer('aaaa.bbbb.cccd') })).statusCode, 401)
  t.equal((await app.inject(`/alerts?token=${jwtShaped}`)).statusCode, 401, 'not on a plain GET')
})

t.test('publish alone cannot resolve or quiet what another source raised, nor remove a monitor; operate can', async (t) => {
  const script = token()
  const operator = token()
  const tokens = tokensFile(t, [{ name: 'script', scopes: ['publish', 'subscribe'], token: script }, { name: 'oncall', scopes: ['publish', 'operate', 'subscribe'], token: operator }])
  const app = await build(t, { TOKENS_FILE: tokens.path })
  const post = async (url: string, who: string, payload: object): Promise<Record<string, any>> => {
    const res = await app.inject({ method: 'POST', url, headers: bearer(who), payload })
    t.equal(res.statusCode, 200, `${url}: ${res.body}`)
    return res.json()
  }
  const am = (fingerprint: string, status: 'firing' | 'resolved', severity = 'critical'): object => ({
    version: '4',
    status,
    receiver: 'alert-server',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am:9093',
    alerts: [{ status, labels: { alertname: 'DiskFull', severity, job: 'node' }, annotations: {}, startsAt: '2026-01-01T12:00:00Z', fingerprint }]
  })
  const alertWith = async (key: string): Promise<Record<string, any> | undefined> =>
    (await app.inject({ url: `/alerts?key=${encodeURIComponent(key)}&state=open,acknowledged,resolved`, headers: bearer(operator) })).json().alerts[0]

  // A repeat never lowers the severity of another source's alert without operate...
  await post('/integrations/alertmanager', script, am('fp1', 'firing'))
  const quieted = await post('/alerts', script, { message: 'fine', location: 'db1', severity: 'info', key: 'alertmanager:fp1' })
  t.match(quieted, { severity: 'critical', count: 2, message: 'fine' }, 'the repeat counts, the severity stays')
  // ...and an Idempotency-Key retry of it is still the same request, not a conflict.
  const once = { method: 'POST' as const, url: '/alerts', headers: { ...bearer(script), 'idempotency-key': 'k-1' }, payload: { message: 'again', location: 'db1', severity: 'info', key: 'alertmanager:fp1' } }
  t.equal((await app.inject(once)).json().severity, 'critical')
  const retry = await app.inject(once)
  t.same([retry.statusCode, retry.headers['idempotent-replayed'], retry.json().count], [200, 'true', 3])
  // Raising it is fine, and so is lowering one of its own source (the API's), or with operate.
  t.equal((await post('/alerts', script, { message: 'worse', location: 'db1', severity: 'critical', key: 'alertmanager:fp1' })).severity, 'critical')
  await post('/alerts', script, { message: 'm', location: 'l', severity: 'critical', key: 'api-key' })
  t.equal((await post('/alerts', script, { message: 'm', location: 'l', severity: 'info', key: 'api-key' })).severity, 'info', 'the same source may lower its own')
  t.equal((await post('/alerts', operator, { message: 'fine', location: 'db1', severity: 'info', key: 'alertmanager:fp1' })).severity, 'info', 'operate may lower it')

  // An Alertmanager resolve without operate reaches only what Alertmanager raised.
  await post('/alerts', script, { message: 'raised by hand', location: 'db2', severity: 'critical', key: 'alertmanager:fp2' })
  t.same(await post('/integrations/alertmanager', script, am('fp2', 'resolved')), { raised: 0, repeated: 0, resolved: 0 })
  t.equal((await alertWith('alertmanager:fp2'))?.state, 'open', 'an alert the API raised stays open')
  t.same(await post('/integrations/alertmanager', script, am('fp1', 'resolved')), { raised: 0, repeated: 0, resolved: 1 }, 'its own are resolved')
  t.same(await post('/integrations/alertmanager', operator, am('fp2', 'resolved')), { raised: 0, repeated: 0, resolved: 1 }, 'operate resolves any')
  t.equal((await alertWith('alertmanager:fp2'))?.state, 'resolved')

  // Removing a monitor (which resolves its alert) needs operate.
  t.equal((await app.inject({ method: 'POST', url: '/heartbeats/backup', headers: bearer(script) })).statusCode, 200, 'a ping is publishing')
  const refused = await app.inject({ method: 'DELETE', url: '/heartbeats/backup', headers: bearer(script) })
  t.same([refused.statusCode, refused.json().code], [403, 'SCOPE_MISSING'])
  t.equal((await app.inject({ method: 'DELETE', url: '/heartbeats/backup', headers: bearer(operator) })).statusCode, 200)
})
