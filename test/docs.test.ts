import t from 'tap'
import { readFileSync } from 'node:fs'
import { build } from './helpers/app'
import { ERROR_CODES, statusOf } from '../schemas/errors'

t.test('OpenAPI 3 document holds every HTTP route with its schemas, statuses, examples and tags', async (t) => {
  const app = await build(t)
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)
  t.same(doc.servers ?? [], [], 'no DOMAIN: the document is relative to where it is served')
  t.match(doc.info.description, /\/ws/)

  const alerts = doc.paths['/alerts'].post
  t.same(alerts.tags, ['alerts'])
  const body = alerts.requestBody.content['application/json']
  t.same(body.schema.required, ['message', 'location'])
  t.equal(body.schema.properties.message.maxLength, 1000)
  t.equal(body.schema.properties.location.maxLength, 200)
  t.same(body.example, { message: 'Unauthorized door access', location: 'South Gate' })
  t.same(Object.keys(alerts.responses).sort(), ['200', '400', '401', '403', '408', '413', '415', '422', '429', '503', '504'])
  t.same(alerts.responses['200'].content['application/json'].schema.required, ['id', 'timestamp', 'type', 'message', 'location', 'severity', 'state', 'count', 'updatedAt', 'source'])
  t.same(alerts.responses['400'].content['application/json'].schema.required, ['statusCode', 'code', 'error', 'message'])

  const history = doc.paths['/alerts/history'].get
  t.same(history.tags, ['alerts'])
  t.ok(history.responses['200'].content['application/json'].schema.properties.alerts)

  const post = doc.paths['/message'].post
  const get = doc.paths['/message'].get
  t.same(post.tags, ['chat'])
  t.same(post.requestBody.content['application/json'].schema.required, ['sender', 'message'])
  t.same(Object.keys(post.responses).sort(), ['200', '400', '401', '403', '408', '413', '415', '422', '429', '503', '504'])
  t.same(Object.keys(get.responses).sort(), ['200', '401', '403', '429', '503'])
  t.ok(get.responses['200'].content['application/json'].schema.properties.chatMessages)
})

t.test('DOMAIN is listed as the OpenAPI server', async (t) => {
  const bare = await build(t, { DOMAIN: '127.0.0.1:8000' })
  t.same((await bare.inject('/docs/json')).json().servers, [{ url: 'http://127.0.0.1:8000' }])
  const url = await build(t, { DOMAIN: 'https://alerts.example.com' })
  t.same((await url.inject('/docs/json')).json().servers, [{ url: 'https://alerts.example.com' }])
})

t.test('Swagger UI is served at /docs', async (t) => {
  const app = await build(t)
  const res = await app.inject('/docs/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger/i)
})

t.test('docs/api.md\'s table of errors names every code the server answers, with its status', async (t) => {
  const doc = readFileSync('docs/api.md', 'utf8')
  const rows = doc.split('\n').filter((line) => /^\| \d{3} \|/.test(line))
  for (const code of ERROR_CODES) {
    const row = rows.find((line) => line.split('|')[2]?.includes(`\`${code}\``))
    t.ok(row, `${code} has a row`)
    t.equal(row?.split('|')[1]?.trim(), String(statusOf(code)), `${code} is under ${statusOf(code)}`)
  }
})

t.test('docs/operations.md lists every metric of the server\'s own', async (t) => {
  const app = await build(t)
  const text = (await app.inject('/metrics')).body
  const names = [...text.matchAll(/^# HELP (alert_server_\w+)/gm)].map((m) => m[1] as string)
  t.ok(names.length >= 15, `${names.length} metrics`)
  const doc = readFileSync('docs/operations.md', 'utf8')
  for (const name of names) t.ok(doc.includes(`\`${name}\``) || doc.includes(`\`${name}{`), `${name} is listed`)
})
