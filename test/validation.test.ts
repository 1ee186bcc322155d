import t from 'tap'
import type { InjectOptions } from 'fastify'
import { build } from './helpers/app'
import { PATTERN_WORDS } from '../plugins/app/validation'

const json = { 'content-type': 'application/json' }

t.test('a refused value is explained in words: the allowed values, or the expected form; never a regular expression', async (t) => {
  const fastify = await build(t)
  const cases: Array<[string, InjectOptions, string]> = [
    ['a severity', { method: 'POST', url: '/alerts', headers: json, payload: { message: 'm', location: 'l', severity: 'urgent' } },
      'body/severity must be one of info, warning, critical'],
    ['a link', { method: 'POST', url: '/alerts', headers: json, payload: { message: 'm', location: 'l', link: 'ftp://files.example.com/x' } },
      'body/link must be an http or https URL, such as https://runbooks.example.com/disk-full'],
    ['tags', { method: 'POST', url: '/alerts', headers: json, payload: { message: 'm', location: 'l', tags: Array.from({ length: 11 }, (_, i) => `t${i}`) } },
      'body/tags must have at most 10 items'],
    ['a heartbeat period', { method: 'POST', url: '/heartbeats/backup?every=5' },
      'querystring/every must be a duration: a whole number and a unit (ms, s, m, h, d or w), such as 30s, 5m, 2h, 1d'],
    ['a heartbeat grace', { method: 'POST', url: '/heartbeats/backup?grace=1%20hour' },
      'querystring/grace must be a duration: a whole number and a unit (ms, s, m, h, d or w), such as 30s, 5m, 2h, 1d'],
    ['a heartbeat name', { method: 'POST', url: '/heartbeats/night%20backup' },
      'params/name must be letters, digits, -, _ and . only'],
    ['an Idempotency-Key', { method: 'POST', url: '/alerts', headers: { ...json, 'idempotency-key': 'k\u00e9y' }, payload: { message: 'm', location: 'l' } },
      'headers/idempotency-key must be visible ASCII characters (no spaces)'],
    ['an alert id', { method: 'POST', url: '/alerts/not-an-id/ack' },
      'params/id must be a UUID, such as 7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8'],
    ['a board state', { method: 'GET', url: '/alerts?state=closed' },
      'querystring/state must be a comma list of open, acknowledged, resolved; got "closed"']
  ]
  for (const [what, request, message] of cases) {
    const res = await fastify.inject(request)
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().message, message, what)
  }
})

t.test('every pattern and format in the API (as the OpenAPI document lists them) has words', async (t) => {
  const fastify = await build(t)
  const patterns = new Set<string>()
  const formats = new Set<string>()
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(walk); return }
    if (node === null || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      if (key === 'pattern' && typeof value === 'string') patterns.add(value)
      else if (key === 'format' && typeof value === 'string') formats.add(value)
      else walk(value)
    }
  }
  walk((await fastify.inject('/docs/json')).json())
  t.ok(patterns.size >= 5, 'the walk finds the patterns')
  t.same([...patterns].filter((p) => PATTERN_WORDS[p] === undefined), [], 'no pattern without words')
  t.same([...formats].filter((f) => !['uuid', 'date-time'].includes(f)), [], 'no format without words')
})

t.test('unknown body fields are dropped, as ever, and named in the Ignored-Fields header; the body is the alert alone', async (t) => {
  const fastify = await build(t)
  const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: json, payload: { message: 'Disk full', location: 'db1', severty: 'critical', id: 'mine' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['ignored-fields'], 'severty, id')
  t.equal(res.json().severity, 'warning', 'the misspelt field is not honoured')
  t.not(res.json().id, 'mine')
  t.same(Object.keys(res.json()), ['id', 'timestamp', 'type', 'message', 'location', 'severity', 'state', 'count', 'updatedAt', 'source'], 'the original fields, then the lifecycle: nothing added')

  const chat = await fastify.inject({ method: 'POST', url: '/message', headers: json, payload: { sender: 'Jose', message: 'hi', 'to,\nall é': true } })
  t.equal(chat.headers['ignored-fields'], 'to%2C%0Aall%20%C3%A9', 'any name fits in a header, percent-encoded')
  const clean = await fastify.inject({ method: 'POST', url: '/alerts', headers: json, payload: { message: 'Disk full', location: 'db1' } })
  t.equal(clean.headers['ignored-fields'], undefined, 'none when nothing was dropped')
  const refused = await fastify.inject({ method: 'POST', url: '/alerts', headers: json, payload: { mesage: 'Disk full', location: 'db1' } })
  t.equal(refused.statusCode, 400)
  t.equal(refused.headers['ignored-fields'], 'mesage', 'a refusal names it too: the likely cause')
  const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`extra${i}`, i]))
  const capped = await fastify.inject({ method: 'POST', url: '/alerts', headers: json, payload: { message: 'm', location: 'l', ...many } })
  t.equal(String(capped.headers['ignored-fields']).split(', ').length, 20, 'at most 20 named')

  const cors = await fastify.inject({ method: 'POST', url: '/alerts', headers: { ...json, origin: 'https://ops.example.com' }, payload: { message: 'm', location: 'l', x: 1 } })
  t.match(cors.headers['access-control-expose-headers'], /Ignored-Fields/, 'a page of another origin may read it')
})
