import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { bearer, tokensFile } from './helpers/credentials'

type Json = Record<string, any>

const run = promisify(execFile)

const text = async (app: FastifyInstance, body: string | Buffer, url = '/alerts', headers: Record<string, string> = {}, type = 'text/plain') =>
  await app.inject({ method: 'POST', url, headers: { 'content-type': type, ...headers }, payload: body } as InjectOptions)

t.test('curl -d, as the docs show it: the body is the message, the query string the rest; the same alert as JSON, on /ws too', async (t) => {
  const { fastify: app, url, wsUrl } = await listen(t)
  const client = await Client.open(`${wsUrl}/ws`, t)
  // The real curl: -d declares a form, and sends the text as it is.
  const { stdout } = await run('curl', ['-sS', '-d', 'Backup failed on db1', `${url}/alerts?location=db1&severity=critical&tags=backup,db`])
  const answer = JSON.parse(stdout) as Json
  t.match(answer, { type: 'alert', message: 'Backup failed on db1', location: 'db1', severity: 'critical', tags: ['backup', 'db'], source: 'api', state: 'open', count: 1 })
  t.same(await client.next(), answer, 'the frame on /ws is the answer')

  const json = await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'Backup failed on db1', location: 'db1', severity: 'critical', tags: ['backup', 'db'] } })
  const { id: _a, timestamp: _b, updatedAt: _c, ...fromJson } = json.json()
  const { id: _d, timestamp: _e, updatedAt: _f, ...fromText } = answer
  t.same(fromText, fromJson, 'field for field what the JSON form gives')

  // Headers, with curl too: UTF-8 in a header is read as UTF-8.
  const headed = await run('curl', ['-sS', '-H', 'Content-Type: text/plain', '-H', 'X-Location: São Paulo', '-H', 'X-Severity: info', '-H', 'X-Link: https://runbooks.example.com/backup', '--data-binary', 'Réplica atrasada\n', `${url}/alerts`])
  t.match(JSON.parse(headed.stdout), { message: 'Réplica atrasada', location: 'São Paulo', severity: 'info', link: 'https://runbooks.example.com/backup' }, 'the final line break dropped')
})

t.test('headers or query string: a header wins; every field; a key repeats the alert', async (t) => {
  const app = await build(t)
  const first = await text(app, 'Disk 95% full', '/alerts?location=query&key=ignored', { 'x-location': 'db1', 'x-key': 'disk:db1', 'x-tags': ' disk , db ,, ', 'x-severity': 'critical', 'x-link': 'https://grafana.example.com/d/disk' })
  t.equal(first.statusCode, 200)
  t.match(first.json(), { message: 'Disk 95% full', location: 'db1', key: 'disk:db1', tags: ['disk', 'db'], severity: 'critical', link: 'https://grafana.example.com/d/disk', count: 1 })
  const again = await text(app, 'Disk 97% full', '/alerts?location=db1&key=disk:db1')
  t.match(again.json(), { id: first.json().id, message: 'Disk 97% full', count: 2, severity: 'warning' }, 'the key repeats it; severity warning by default')
  const noTags = await text(app, 'm', '/alerts?location=l', { 'x-tags': ' , ' })
  t.notOk('tags' in noTags.json(), 'an empty list is no tags')
  const crlf = await text(app, 'line one\r\nline two\r\n', '/alerts?location=l')
  t.equal(crlf.json().message, 'line one\r\nline two', 'only the final line break is dropped')
  // A JSON body carries its own fields: the headers are not read.
  const json = await app.inject({ method: 'POST', url: '/alerts?location=q', headers: { 'x-location': 'h', 'x-severity': 'critical' }, payload: { message: 'm', location: 'body' } })
  t.match(json.json(), { location: 'body', severity: 'warning' })
})

t.test('the same validation as JSON, naming the header or parameter', async (t) => {
  const app = await build(t)
  const cases: Array<[string, string | Buffer, string, Record<string, string>, number, string, RegExp]> = [
    ['no location', 'm', '/alerts', {}, 400, 'VALIDATION_FAILED', /^location is required: send an X-Location header or \?location=$/],
    ['blank body', ' \u200b ', '/alerts?location=l', {}, 400, 'VALIDATION_FAILED', /^body must not be blank$/],
    ['empty body', '', '/alerts?location=l', {}, 400, 'VALIDATION_FAILED', /^body must not be empty$/],
    ['long body', 'x'.repeat(1001), '/alerts?location=l', {}, 400, 'VALIDATION_FAILED', /^body must be at most 1000 characters$/],
    ['blank location', 'm', '/alerts?location=%20', {}, 400, 'VALIDATION_FAILED', /^querystring\/location must not be blank$/],
    ['long location header', 'm', '/alerts', { 'x-location': 'l'.repeat(201) }, 400, 'VALIDATION_FAILED', /^headers\/x-location must be at most 200 characters$/],
    ['bad severity', 'm', '/alerts?location=l', { 'x-severity': 'urgent' }, 400, 'VALIDATION_FAILED', /^headers\/x-severity /],
    ['bad link', 'm', '/alerts?location=l&link=javascript:alert(1)', {}, 400, 'VALIDATION_FAILED', /^querystring\/link must be an http or https URL/],
    ['eleven tags', 'm', '/alerts?location=l', { 'x-tags': 'a,b,c,d,e,f,g,h,i,j,k' }, 400, 'VALIDATION_FAILED', /^headers\/x-tags /],
    ['a long tag', 'm', `/alerts?location=l&tags=${'t'.repeat(51)}`, {}, 400, 'VALIDATION_FAILED', /^querystring\/tags\/0 must be at most 50 characters$/],
    ['blank key', 'm', '/alerts?location=l&key=%20', {}, 400, 'VALIDATION_FAILED', /^querystring\/key must not be blank$/],
    ['a parameter twice', 'm', '/alerts?location=a&location=b', {}, 400, 'VALIDATION_FAILED', /^querystring\/location is given 2 times; give it once$/],
    ['not UTF-8', Buffer.from([0x66, 0xff, 0x6f]), '/alerts?location=l', {}, 400, 'INVALID_UTF8', /not valid UTF-8/],
    ['another charset', 'm', '/alerts?location=l', { 'content-type': 'text/plain; charset=latin1' }, 415, 'UNSUPPORTED_CHARSET', /send text in UTF-8/],
    ['XML', '<m/>', '/alerts?location=l', { 'content-type': 'application/xml' }, 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/xml/]
  ]
  for (const [name, body, url, headers, status, code, message] of cases) {
    const res = await text(app, body, url, headers)
    t.equal(res.statusCode, status, name)
    t.match(res.json(), { statusCode: status, code, message }, name)
  }
  const large = await text(app, 'x'.repeat(70 * 1024), '/alerts?location=l')
  t.match(large.json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
  t.same((await app.inject('/alerts')).json(), { alerts: [], count: 0 }, 'nothing stored')
  // Only POST /alerts takes text: the other routes still answer 415.
  for (const url of ['/message', '/alerts/resolve', '/alerts/7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8/ack', '/integrations/alertmanager']) {
    t.equal((await text(app, 'x', url)).statusCode, 415, `${url} takes no text`)
  }
})

t.test('the same idempotency: a retry gets the first answer; another text under the key is 422', async (t) => {
  const app = await build(t)
  const key = { 'idempotency-key': 'backup-2026-01-01' }
  const first = await text(app, 'Backup failed', '/alerts?location=db1', key)
  const retry = await text(app, 'Backup failed', '/alerts?location=db1', key)
  t.equal(retry.statusCode, 200)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.same(retry.json(), first.json())
  const asJson = await app.inject({ method: 'POST', url: '/alerts', headers: key, payload: { message: 'Backup failed', location: 'db1' } })
  t.equal(asJson.headers['idempotent-replayed'], 'true', 'the same alert in JSON is the same request')
  const other = await text(app, 'Backup failed', '/alerts?location=db2', key)
  t.equal(other.statusCode, 422)
  t.match(other.json(), { code: 'IDEMPOTENCY_CONFLICT' })
  t.equal((await app.inject('/alerts/history')).json().count, 1)
})

t.test('the same scopes: publish, behind the token', async (t) => {
  const { path } = tokensFile(t, [
    { name: 'cron', scopes: ['publish'], token: 'publisher' },
    { name: 'wall', scopes: ['subscribe'], token: 'reader' }
  ])
  const app = await build(t, { TOKENS_FILE: path })
  t.match((await text(app, 'm', '/alerts?location=l')).json(), { statusCode: 401, code: 'TOKEN_REQUIRED' })
  t.match((await text(app, 'm', '/alerts?location=l', bearer('reader'))).json(), { statusCode: 403, code: 'SCOPE_MISSING' })
  t.equal((await text(app, 'm', '/alerts?location=l', bearer('publisher'))).statusCode, 200)
})

t.test('OpenAPI shows both bodies and the headers', async (t) => {
  const app = await build(t)
  const route = (await app.inject('/docs/json')).json().paths['/alerts'].post
  t.same(Object.keys(route.requestBody.content), ['application/json', 'text/plain', 'application/x-www-form-urlencoded'])
  t.ok(route.requestBody.content['application/json'].schema.properties.location)
  t.equal(route.requestBody.content['text/plain'].schema.type, 'string')
  const headers = (route.parameters as Json[]).filter((p) => p.in === 'header').map((p) => p.name)
  t.same(headers, ['idempotency-key', 'x-location', 'x-severity', 'x-key', 'x-tags', 'x-link'])
})
