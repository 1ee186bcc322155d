import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RouteOptions } from 'fastify'
import Ajv, { type ErrorObject } from 'ajv'
import { Type, type TSchema } from '@sinclair/typebox'
import { buildLogged } from './helpers/app'
import * as frames from '../schemas/frames'
import { AlertUpdate, Event, EventType } from '../schemas/events'
import { ErrorResponse } from '../schemas/errors'
import { UUID } from '../schemas/events'

const ROOT = resolve(__dirname, '..')
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

/**
 * How a JSON sample of the documentation says what it shows:
 *
 *  - a ```json block is preceded by `<!-- sample: <what> -->`, where <what> is
 *    `GET /whoami 200` (a route's answer), `event`, `frame` (what /ws sends),
 *    `error` (the error shape), or `none: <why>` (not an answer: a file, a request);
 *  - in a ```bash block, a comment line `# {...}` is the answer to the curl
 *    command above it (its method and path pick the route; 2xx unless the
 *    sample is an error).
 *
 * Elisions are allowed where a reader does not need the detail: "…" inside a
 * string, or a string such as "<alert id>" (any value); `[…]` (some items);
 * `…}` at the end of an object (more fields). Everything else must match.
 */
interface Sample { file: string, line: number, what: string, json: string }

const MARKER = /^<!-- sample: (.+?) -->$/

function samplesOf (file: string): Sample[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const out: Sample[] = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i] ?? '')
    if (fence === null) continue
    const lang = fence[1]
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) body.push(lines[i] ?? '')
    if (lang === 'json') {
      let j = start - 1
      while (j >= 0 && (lines[j] ?? '').trim() === '') j--
      const marker = MARKER.exec((lines[j] ?? '').trim())
      const what = marker?.[1] ?? ''
      if (what.startsWith('none')) continue
      // One JSON value per line, or one spread over several lines.
      let pending = ''
      let from = start + 2
      body.forEach((text, k) => {
        if (pending === '') from = start + 2 + k
        pending += text + '\n'
        if (parseSample(pending) !== undefined) {
          out.push({ file, line: from, what, json: pending })
          pending = ''
        }
      })
      if (pending.trim() !== '') out.push({ file, line: from, what, json: pending })
    } else if (lang === 'bash' || lang === 'sh') {
      let command = ''
      let lastCurl = ''
      for (const text of body) {
        command += text.replace(/\\$/, ' ')
        if (text.endsWith('\\')) continue
        if (/^\s*curl\b/.test(command)) lastCurl = command
        const answer = /^#\s*([[{].*)$/.exec(command.trim())
        if (answer !== null) out.push({ file, line: start + 2 + body.indexOf(text), what: requestOf(lastCurl), json: answer[1] ?? '' })
        command = ''
      }
    }
  }
  return out
}

/** "POST /alerts" from a curl command line; '' when there is none. */
function requestOf (curl: string): string {
  if (curl === '') return ''
  const method = /(?:-X|--request)\s+([A-Z]+)/.exec(curl)?.[1] ?? (/\s(-d|--data\S*)\s/.test(curl) ? 'POST' : 'GET')
  const url = /https?:\/\/[^\s'"]+/.exec(curl)?.[0]
  return url === undefined ? '' : `${method} ${new URL(url.replace(/<[^>]*>/g, 'ELIDED')).pathname.replace(/ELIDED/g, '<id>')}`
}

const ELIDED = '__elided__'

/** The sample as a value, its elisions marked; undefined when it is not JSON (yet). */
function parseSample (text: string): unknown {
  const marked = text
    .replace(/\[\s*…\s*\]/g, '[]')
    .replace(/,\s*…\s*\}/g, `,"${ELIDED}":true}`)
  try { return JSON.parse(marked) } catch { return undefined }
}

const elidedString = (v: unknown): boolean => typeof v === 'string' && (v.includes('…') || /^<[^>]+>$/.test(v))

/** Every object schema closed (no field the schema does not know), so that a misspelt field in a sample fails. */
function closed (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed)
  if (schema === null || typeof schema !== 'object') return schema
  const copy: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) copy[k] = closed(v)
  if (copy.type === 'object' && copy.properties !== undefined && copy.additionalProperties === undefined) copy.additionalProperties = false
  return copy
}

const ajv = new Ajv({ allErrors: true, strict: false }).addFormat('uuid', UUID).addFormat('date-time', true)

function at (value: unknown, pointer: string): unknown {
  return pointer.split('/').slice(1).reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], value)
}

/** What is wrong with `value` against `schema`, elisions forgiven; [] when it matches. */
function problems (schema: unknown, value: unknown): string[] {
  // A union (an event, a frame): the branch it matches, else the one it comes closest to.
  const branches = (schema as { anyOf?: unknown[] }).anyOf
  if (branches !== undefined) {
    return branches.map((branch) => problems(branch, value)).sort((a, b) => a.length - b.length)[0] ?? []
  }
  const validate = ajv.compile(closed(schema) as object)
  if (validate(value)) return []
  return (validate.errors ?? []).filter((e: ErrorObject) => {
    const here = at(value, e.instancePath)
    if (elidedString(here)) return false
    const partial = here !== null && typeof here === 'object' && ELIDED in here
    if (partial && e.keyword === 'required') return false
    if (e.keyword === 'additionalProperties' && (e.params as { additionalProperty: string }).additionalProperty === ELIDED) return false
    // A union's branches that did not match repeat the one real error.
    return e.keyword !== 'anyOf' && e.keyword !== 'oneOf'
  }).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`)
}

const ServerFrame = Type.Union([Event, frames.ErrorFrame, frames.GapFrame, frames.PongFrame])

async function routes (): Promise<RouteOptions[]> {
  const list: RouteOptions[] = []
  await buildLogged(t, {}, (fastify) => { fastify.addHook('onRoute', (route) => { list.push(route) }) })
  return list
}

function routeSchema (all: RouteOptions[], what: string, isError: boolean): { schema?: unknown, why?: string } {
  const m = /^([A-Z]+) (\/\S*)(?: (\d{3}))?$/.exec(what)
  if (m === null) return { why: `"${what}" names no route (METHOD /path STATUS)` }
  const [, method, path, status] = m as unknown as [string, string, string, string | undefined]
  const matches = all.filter((r) => [r.method].flat().includes(method as never) &&
    new RegExp(`^${r.url.replace(/:[^/]+/g, '[^/]+')}/?$`).test(path))
  // A fixed path before a parameter (/alerts/resolve before /alerts/:id).
  const route = matches.find((r) => r.url === path) ?? matches[0]
  if (route === undefined) return { why: `no route ${method} ${path}` }
  const responses = (route.schema?.response ?? {}) as Record<string, unknown>
  const code = status ?? (isError ? Object.keys(responses).find((c) => c.startsWith('4')) : Object.keys(responses).find((c) => c.startsWith('2')))
  const schema = code === undefined ? undefined : responses[code]
  return schema === undefined ? { why: `${method} ${route.url} declares no ${status ?? (isError ? '4xx' : '2xx')} answer` } : { schema }
}

t.test('every JSON answer shown in README.md and docs/*.md matches the schema of what it shows', async (t) => {
  const all = await routes()
  const samples = DOCS.flatMap(samplesOf)
  t.ok(samples.length >= 15, `${samples.length} samples found`)
  for (const sample of samples) {
    const where = `${sample.file}:${sample.line}`
    const value = parseSample(sample.json)
    if (value === undefined) { t.fail(`${where}: not JSON (elisions allowed: "…" in a string, […], …}): ${sample.json.trim()}`); continue }
    const isError = typeof value === 'object' && value !== null && 'statusCode' in value
    let schema: unknown
    switch (sample.what) {
      case 'event': schema = Event; break
      case 'frame': schema = ServerFrame; break
      case 'error': schema = ErrorResponse; break
      case '': t.fail(`${where}: say what this sample shows: <!-- sample: GET /path 200 | event | frame | error | none: why --> before the block, or a curl command above the answer`); continue
      default: {
        const found = routeSchema(all, sample.what, isError)
        if (found.schema === undefined) { t.fail(`${where}: ${found.why ?? ''}`); continue }
        schema = found.schema
      }
    }
    t.same(problems(schema, value), [], `${where} (${sample.what}) matches`)
  }
})

t.test('the check can fail: a field missing, a misspelt one, a wrong value, a sample tied to nothing', async (t) => {
  const all = await routes()
  const whoami = routeSchema(all, 'GET /whoami 200', false).schema
  t.same(problems(whoami, { name: 'lobby', scopes: ['subscribe'], named: true, open: false }), [])
  t.match(problems(whoami, { name: 'lobby', scopes: ['subscribe'], open: false }), [/must have required property 'named'/])
  t.match(problems(whoami, { name: 'lobby', scopes: ['subscribe'], named: true, open: false, nmae: 1 }), [/additional properties \(nmae\)/])
  t.match(problems(Event, parseSample('{"id":"…","timestamp":"…","type":"alert","message":"m","location":"l","severity":"urgent","state":"open","count":1,"updatedAt":"…","source":"api"}')), [/severity must be equal to one of the allowed values/])
  t.same(problems(AlertUpdate, parseSample('{"type":"alert_update","id":"<event id>","timestamp":"…","change":"acknowledged","alert":{"id":"<alert id>","state":"acknowledged",…}}')), [], 'elisions are forgiven')
  t.match(routeSchema(all, 'GET /nowhere 200', false), { why: 'no route GET /nowhere' })
  t.equal(requestOf("curl -s -X POST http://127.0.0.1:8000/alerts/<id>/ack -H 'Content-Type: application/json'"), 'POST /alerts/<id>/ack')
  t.equal(requestOf('curl -s http://127.0.0.1:8000/message'), 'GET /message')
})

t.test('every frame type of schemas/frames.ts and every event type is in docs/websocket.md', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'websocket.md'), 'utf8')
  const section = (title: string): string => doc.split(`### ${title}\n`)[1]?.split('\n#')[0] ?? ''
  const serverRows = [...section('Server to client').matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]).filter((name) => name !== 'type')
  const literal = (schema: TSchema): string | undefined => (schema as { properties?: { type?: { const?: unknown } } }).properties?.type?.const as string | undefined
  const frameTypes = Object.values(frames).map((s) => literal(s as TSchema)).filter((x): x is string => x !== undefined)
  t.ok(frameTypes.length >= 4, `frame types found: ${frameTypes.join(', ')}`)
  // Not sent by /ws: the client's ping (its own table), the NDJSON keepalive of GET /events.
  const notFromServer = ['ping', 'keepalive']
  const eventTypes = (EventType as unknown as { enum: string[] }).enum
  t.same([...serverRows].sort(), [...eventTypes, ...frameTypes.filter((f) => !notFromServer.includes(f))].sort(), 'the server-to-client table lists every frame /ws sends')
  t.match(section('Client to server'), /`\{"type": "ping"\}`/, 'the ping frame is in the client table')
  t.match(doc, /`keepalive`/, 'the keepalive frame is named, where it belongs')
})
