import t from 'tap'
import fc from 'fast-check'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { createRedisBackend } from '../plugins/core/redis-backend'
import type { Event } from '../schemas/events'
import { stamp } from '../plugins/core/publisher'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { redisClient, redisPrefix, redisTest, SHARED_REDIS_URL } from './helpers/redis'
import { BACKEND_KINDS, backendEnv, backendTest, makeBackend } from './helpers/backends'

// What text the server takes, on every way in (POST /alerts, POST /message,
// chat over /ws) and in both stores: well-formed Unicode, sent as UTF-8, that
// is not blank once whitespace, controls and zero-width characters are set
// aside. Everything taken comes back exactly as sent.

const log = pino({ level: 'silent' })
const json = { 'content-type': 'application/json' }

// The rule, written out for the tests (the server's is in schemas/events.ts).
const wellFormed = (s: string): boolean => !/\p{Cs}/u.test(s)
const shows = (s: string): boolean => /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(s)
const takes = (s: string, max: number): boolean => s.length > 0 && [...s].length <= max && wellFormed(s) && shows(s)

const BLANKS: Array<[string, string]> = [
  ['NUL only', '\u0000'],
  ['controls only', '\u0001\u0007\u001b\u007f\u0085'],
  ['zero-width space', '\u200b'],
  ['zero-width joiners and a word joiner', '\u200c\u200d\u2060'],
  ['a BOM', '\ufeff'],
  ['bidi controls', '\u202e\u2066\u200f'],
  ['a soft hyphen', '\u00ad'],
  ['a Hangul filler', '\u3164'],
  ['a variation selector', '\ufe0f'],
  ['all of them with whitespace', ' \u0000\t\u200b\n\u00a0\ufeff\u3000 ']
]
const LONE = ['\ud800', '\udfff', 'ok\ud83d', '\udca5ok', '\udca5\ud83d']
const KEPT = ['💥', 'a\u200bb', '\u0000x', 'e\u0301', '👩‍👩‍👧', '\u202eevil', 'x\ud83d\udca5y']

const routes = [
  { url: '/alerts', history: '/alerts/history', key: 'alerts', fields: { message: 'm', location: 'l' } },
  { url: '/message', history: '/message', key: 'chatMessages', fields: { sender: 's', message: 'm' } }
] as const

async function count (app: FastifyInstance, history: string): Promise<number> {
  return (await app.inject(history)).json().count
}

for (const { url, history, key, fields } of routes) {
  for (const field of Object.keys(fields)) {
    t.test(`POST ${url}: a blank or ill-formed ${field} is 400 and stores nothing`, async (t) => {
      const app = await build(t)
      for (const [name, value] of BLANKS) {
        const res = await app.inject({ method: 'POST', url, payload: { ...fields, [field]: value } })
        t.equal(res.statusCode, 400, name)
        t.match(res.json().message, `body/${field} must not be blank`, name)
      }
      for (const value of LONE) {
        const res = await app.inject({ method: 'POST', url, payload: { ...fields, [field]: value } })
        t.equal(res.statusCode, 400, JSON.stringify(value))
        t.match(res.json().message, `body/${field} must be well-formed Unicode`)
      }
      t.equal(await count(app, history), 0)
    })

    t.test(`POST ${url}: ${field} with invisible characters around visible ones is kept exactly`, async (t) => {
      const app = await build(t, { HISTORY_SIZE: 100, REPLAY_WINDOW: 100 })
      for (const value of KEPT) {
        const res = await app.inject({ method: 'POST', url, payload: { ...fields, [field]: value } })
        t.equal(res.statusCode, 200, JSON.stringify(value))
        t.equal(res.json()[field], value)
      }
      const list = (await app.inject(history)).json()[key] as Array<Record<string, string>>
      t.same(list.map((e) => e[field]), KEPT)
    })
  }

  t.test(`POST ${url}: bytes that are not UTF-8 are 400, not replaced`, async (t) => {
    const app = await build(t)
    const bodies = [
      Buffer.from([0xff]), // never in UTF-8
      Buffer.from([0xc0, 0xaf]), // overlong "/"
      Buffer.from([0xed, 0xa0, 0x80]), // a surrogate, encoded
      Buffer.from([0xe2, 0x82]), // cut short
      Buffer.from([0xe9]) // "é" in latin1
    ]
    for (const bad of bodies) {
      const [name, value] = Object.entries(fields)[0] as [string, string]
      const payload = Buffer.concat([Buffer.from(JSON.stringify({ ...fields, [name]: value }).slice(0, -2)), bad, Buffer.from('"}')])
      const res = await app.inject({ method: 'POST', url, payload, headers: json })
      t.equal(res.statusCode, 400, bad.toString('hex'))
      t.same(res.json(), { statusCode: 400, code: 'INVALID_UTF8', error: 'Bad Request', message: 'body is not valid UTF-8' })
    }
    t.equal(await count(app, history), 0)
  })

  t.test(`POST ${url}: a charset other than UTF-8 is 415; UTF-8 however spelled is read`, async (t) => {
    const app = await build(t)
    const payload = JSON.stringify(fields)
    for (const charset of ['utf-16', 'UTF-16LE', 'latin1', 'iso-8859-1', 'us-ascii', 'windows-1252', '"utf-16"', '']) {
      const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': `application/json; charset=${charset}` } })
      t.equal(res.statusCode, 415, charset)
      t.match(res.json().message, /is not supported; send JSON in UTF-8/)
    }
    t.equal(await count(app, history), 0)
    for (const charset of ['utf-8', 'UTF-8', 'utf8', '"utf-8"']) {
      const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': `application/json;charset=${charset}` } })
      t.equal(res.statusCode, 200, charset)
    }
    t.equal(await count(app, history), 4)
  })
}

t.test('chat over /ws: blank or ill-formed sender and message get invalid_message and store nothing', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_CHAT_RATE: 1e6, WS_CHAT_BURST: 1e6, WS_MAX_INVALID_FRAMES: 1000 })
  const client = await Client.open(`${wsUrl}/ws`, t)
  for (const field of ['sender', 'message']) {
    for (const value of [...BLANKS.map(([, v]) => v), ...LONE]) {
      // JSON.stringify writes a lone surrogate as an escape, which is how it can travel in a (UTF-8) text frame.
      client.send({ sender: 's', message: 'm', [field]: value })
      const reply = await client.next()
      t.equal(reply.type, 'error', JSON.stringify(value))
      t.equal(reply.code, 'invalid_message')
      t.match(reply.message, wellFormed(value) ? `frame/${field} must not be blank` : `frame/${field} must be well-formed Unicode`)
    }
  }
  t.equal((await fastify.inject('/message')).json().count, 0)
  client.send({ sender: '💥', message: 'a\u200bb' })
  t.match(await client.next(), { type: 'chat', sender: '💥', message: 'a\u200bb' })
})

redisTest('redis: a lone surrogate that is stored anyway never stops its stream', async (t) => {
  // Written past the HTTP checks, straight into the store, as older versions could.
  const prefix = redisPrefix(t)
  const redis = createRedisBackend({ url: SHARED_REDIS_URL, prefix, historySize: 2, log })
  t.teardown(async () => await redis.close())
  await redis.settled()
  const odd = stamp({ type: 'alert', message: 'bad \ud800 text \udfff', location: '\udc00' })
  await redis.store.append(odd)
  t.same((await redis.store.alerts())[0]?.alert, odd, 'stored and read back exactly')
  const later = [1, 2, 3, 4].map((i) => stamp({ type: 'alert', message: `m${i}`, location: 'x' }))
  for (const event of later) await redis.store.append(event)
  t.same((await redis.store.since()).events, later.slice(-2), 'evicted from the log when oldest; the cap holds')
  const client = redisClient(t)
  t.equal(await client.zcard(`${prefix}history:alert`), 2)
  t.equal(await client.hlen(`${prefix}ids`), 2, 'the id index was trimmed with it')
  t.equal(await client.hlen(`${prefix}seqs`), 2)
})

// Arbitrary text: any code point, and lone UTF-16 halves.
const anyText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\u0000', '\u200b', ' ', '\ufeff', '\ud800', 'a')
  ),
  maxLength: 40
})

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'arbitrary Unicode round-trips exactly through list and since', async (t) => {
    const { store } = await makeBackend(t, kind, { replayWindow: 1000 })
    const appended: Event[] = []
    await fc.assert(fc.asyncProperty(anyText, anyText, async (message, location) => {
      const event = stamp({ type: 'alert', message, location })
      await store.append(event)
      appended.push(event)
      const [newest] = (await store.alerts()).slice(-1)
      return newest?.alert.message === message && newest.alert.location === location
    }), { numRuns: 300 })
    t.same((await store.since()).events, appended, 'the whole history, exactly')
  })
}

for (const kind of BACKEND_KINDS) {
  backendTest(kind, 'arbitrary Unicode through POST is either 200 and kept exactly, or 400 and not stored', async (t) => {
    const env = backendEnv(t, kind, { REPLAY_WINDOW: 1000, HISTORY_SIZE: 1000 })
    const { fastify, wsUrl } = await listen(t, env)
    const accepted: Array<Record<string, string>> = []
    await fc.assert(fc.asyncProperty(fc.boolean(), anyText, anyText, async (isAlert, a, b) => {
      const url = isAlert ? '/alerts' : '/message'
      const payload = isAlert ? { message: a, location: b } : { sender: b, message: a }
      const res = await fastify.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: json })
      const valid = takes(a, 1000) && takes(b, 200)
      if (!valid) return res.statusCode === 400
      if (res.statusCode !== 200) return false
      const event = res.json()
      accepted.push(event)
      return Object.entries(payload).every(([k, v]) => event[k] === v)
    }), { numRuns: 300 })
    const alerts = (await fastify.inject('/alerts/history')).json().alerts
    const chats = (await fastify.inject('/message')).json().chatMessages
    t.same(alerts, accepted.filter((e) => e.type === 'alert'), 'alert history: exactly what was accepted')
    t.same(chats, accepted.filter((e) => e.type === 'chat'), 'chat history: exactly what was accepted')
    // And a replay over the socket gives back the same text.
    const client = await Client.open(`${wsUrl}/ws?since=all`, t)
    const replayed: unknown[] = []
    for (let i = 0; i < accepted.length; i++) replayed.push(await client.next())
    t.same(replayed, accepted, 'replay: every accepted event, exactly, in order')
  })
}
