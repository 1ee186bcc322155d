/**
 * NOTIFY_FILE: which alerts are told to whom. A YAML file (JSON is YAML too)
 * of named `receivers` and of `routes` that match alerts with the filter
 * words of /ws, /events and the board. `${VAR}` in a value is taken from the
 * environment, so secrets stay out of the file; every value that came from
 * the environment, and every URL and token, is a secret: `scrub` takes them
 * out of any text before it is logged or answered.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml'
import type { NotifyKind } from './backend'
import { parseAlertFilter, type AlertFilter, type AlertFilterQuery } from './board'
import { parseDuration } from './duration'
import { inAny, knownZone, minutesOf, MONTHS, rangeOf, WEEKDAYS, type Range, type TimeInterval } from './time-intervals'

/** The events a route's `on` may name (a reminder comes from its `repeat`). */
export const NOTIFY_KINDS: readonly NotifyKind[] = ['raised', 'repeated', 'escalated', 'acknowledged', 'resolved']
/** What a route sends when it says no `on`: every change but repeats, which can come every few seconds. */
export const DEFAULT_ON: readonly NotifyKind[] = ['raised', 'escalated', 'acknowledged', 'resolved']
export const RECEIVER_KINDS = ['webhook', 'slack', 'ntfy', 'email'] as const
export type ReceiverKind = typeof RECEIVER_KINDS[number]

export type Receiver =
  | { name: string, kind: 'webhook', url: string, secret?: string }
  | { name: string, kind: 'slack', url: string }
  | { name: string, kind: 'ntfy', url: string, token?: string }
  | { name: string, kind: 'email', to: string[], from?: string }

export interface Route {
  filter: AlertFilter
  on: ReadonlySet<NotifyKind>
  to: string[]
  /** Send again this often while the alert is open and not acknowledged (ms). */
  repeatMs?: number
  /** Alerts matched within this long go out as one message (ms). */
  groupMs?: number
  /** The names of `time_intervals` during which this route notifies nobody. */
  muteTimeIntervals?: string[]
}

export interface NotifyConfig {
  receivers: Map<string, Receiver>
  routes: Route[]
  /** The file's `time_intervals`, by name. */
  timeIntervals: Map<string, TimeInterval[]>
  /** Every value that must never be shown: URLs, tokens, secrets, whatever came from the environment. */
  secrets: string[]
}

export const emptyNotifyConfig = (): NotifyConfig => ({ receivers: new Map(), routes: [], timeIntervals: new Map(), secrets: [] })

/** The receivers no route sends to, in the file's order: defined, and never told anything. */
export function unusedReceivers (config: NotifyConfig): string[] {
  const used = new Set(config.routes.flatMap((route) => route.to))
  return [...config.receivers.keys()].filter((name) => !used.has(name))
}

/** Whether one of the route's `mute_time_intervals` holds at `at`. */
export function routeMuted (config: NotifyConfig, route: Route, at: number): boolean {
  return route.muteTimeIntervals?.some((name) => inAny(config.timeIntervals.get(name) ?? [], at)) ?? false
}

/** `text` with every secret of `config` replaced by [redacted]. */
export function scrub (text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out
}

class Problem extends Error {
  constructor (readonly node: YamlNode | Pair | null | undefined, message: string) { super(message) }
}

const FIELDS: Record<ReceiverKind, { required: string[], optional: string[] }> = {
  webhook: { required: ['url'], optional: ['secret'] },
  slack: { required: ['url'], optional: [] },
  ntfy: { required: ['url'], optional: ['token'] },
  email: { required: ['to'], optional: ['from'] }
}
const MATCH_WORDS = ['state', 'severity', 'min_severity', 'location', 'key', 'tag'] as const
const ROUTE_FIELDS = ['match', 'on', 'to', 'repeat', 'group', 'mute_time_intervals']
const INTERVAL_FIELDS = ['times', 'weekdays', 'days_of_month', 'months', 'location']
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export interface ParseOptions {
  /** The environment `${VAR}` is read from. */
  env: Record<string, string | undefined>
  /** Whether SMTP_URL is set (an email receiver needs it). */
  smtp: boolean
}

/**
 * Reads a NOTIFY_FILE's text; a problem comes back as one line naming the
 * file, the line and what is wrong, without the value (it may be a secret).
 */
export function parseNotifyConfig (text: string, file: string, { env, smtp }: ParseOptions): NotifyConfig | string {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const where = (offset: number | undefined): string => offset === undefined ? file : `${file}:${lines.linePos(offset).line}`
  const first = doc.errors[0]
  if (first !== undefined) return `${where(first.pos[0])}: not valid YAML (${first.message.split('\n')[0] ?? ''})`
  const secrets = new Set<string>()
  try {
    const config = readConfig(doc.contents, env, smtp, secrets)
    config.secrets = [...secrets].sort((a, b) => b.length - a.length)
    return config
  } catch (err) {
    if (!(err instanceof Problem)) throw err
    const node = err.node
    const offset = node === null || node === undefined ? undefined : 'range' in node && node.range != null ? node.range[0] : rangeOfPair(node as Pair)
    // A value quoted in a problem may have come from the environment.
    return scrub(`${where(offset)}: ${err.message}`, [...secrets])
  }
}

function rangeOfPair (pair: Pair): number | undefined {
  const key = pair.key as YamlNode | null
  return key?.range?.[0]
}

function mapOf (node: unknown, what: string): YAMLMap<unknown, unknown> {
  if (!isMap(node)) throw new Problem(node as YamlNode, `${what} must be a map`)
  return node
}

function keyOf (pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : ''
}

/** A string value, with ${VAR} taken from the environment (an unset one is a problem). */
function stringOf (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>, secret = false): string {
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) throw new Problem(node as YamlNode, `${what} must be a string`)
  const raw = String(node.value)
  let missing: string | undefined
  const value = raw.replace(ENV_REF, (_, name: string) => {
    const found = env[name]
    if (found === undefined || found === '') {
      missing ??= name
      return ''
    }
    secrets.add(found)
    return found
  })
  if (missing !== undefined) throw new Problem(node, `${what} uses \${${missing}}, which is not set in the environment`)
  if (value.trim() === '') throw new Problem(node, `${what} must not be empty`)
  if (secret) secrets.add(value)
  return value
}

function stringsOf (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>): string[] {
  if (isSeq(node)) {
    if (node.items.length === 0) throw new Problem(node, `${what} must list at least one value`)
    return node.items.map((item) => stringOf(item, what, env, secrets))
  }
  return [stringOf(node, what, env, secrets)]
}

function urlOf (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>): string {
  const value = stringOf(node, what, env, secrets, true)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Problem(node as YamlNode, `${what} must be an http:// or https:// URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Problem(node as YamlNode, `${what} must be an http:// or https:// URL`)
  // Sent as a Basic Authorization header (notify-receivers.ts): the password alone is a secret too.
  if (url.password !== '') secrets.add(decodeURIComponent(url.password))
  return value
}

function readConfig (root: unknown, env: Record<string, string | undefined>, smtp: boolean, secrets: Set<string>): NotifyConfig {
  const config = emptyNotifyConfig()
  if (root === null || root === undefined) return config
  const top = mapOf(root, 'the file')
  for (const pair of top.items) {
    const name = keyOf(pair)
    if (name !== 'receivers' && name !== 'routes' && name !== 'time_intervals') throw new Problem(pair, `unknown key ${JSON.stringify(name)}: the file has receivers, routes and time_intervals`)
  }
  const intervals = top.get('time_intervals', true)
  if (intervals !== undefined && intervals !== null) {
    if (!isSeq(intervals)) throw new Problem(intervals as YamlNode, 'time_intervals must be a list')
    intervals.items.forEach((item, i) => {
      const { name, node, list } = readNamedInterval(item, `time_intervals[${i}]`, env, secrets)
      if (config.timeIntervals.has(name)) throw new Problem(node, `time_intervals[${i}] names ${JSON.stringify(name)} again`)
      config.timeIntervals.set(name, list)
    })
  }
  const receivers = top.get('receivers', true)
  if (receivers !== undefined && receivers !== null) {
    for (const pair of mapOf(receivers, 'receivers').items) {
      const receiver = readReceiver(pair, env, smtp, secrets)
      config.receivers.set(receiver.name, receiver)
    }
  }
  const routes = top.get('routes', true)
  if (routes !== undefined && routes !== null) {
    if (!isSeq(routes)) throw new Problem(routes as YamlNode, 'routes must be a list')
    routes.items.forEach((item, i) => config.routes.push(readRoute(item, `routes[${i}]`, config, env, secrets)))
  }
  return config
}

function readReceiver (pair: Pair, env: Record<string, string | undefined>, smtp: boolean, secrets: Set<string>): Receiver {
  const name = keyOf(pair)
  if (!NAME.test(name)) throw new Problem(pair, `receiver name ${JSON.stringify(name.slice(0, 64))} must be letters, digits, - _ . (64 at most)`)
  const body = mapOf(pair.value, `receiver ${name}`)
  if (body.items.length !== 1) throw new Problem(pair, `receiver ${name} must have exactly one kind: ${RECEIVER_KINDS.join(', ')}`)
  const kindPair = body.items[0] as Pair
  const kind = keyOf(kindPair) as ReceiverKind
  if (!RECEIVER_KINDS.includes(kind)) throw new Problem(kindPair, `receiver ${name} has unknown kind ${JSON.stringify(keyOf(kindPair).slice(0, 64))}: one of ${RECEIVER_KINDS.join(', ')}`)
  const fields = mapOf(kindPair.value, `receiver ${name} (${kind})`)
  const { required, optional } = FIELDS[kind]
  for (const field of fields.items) {
    const key = keyOf(field)
    if (!required.includes(key) && !optional.includes(key)) throw new Problem(field, `receiver ${name} (${kind}) has unknown field ${JSON.stringify(key.slice(0, 64))}: it takes ${[...required, ...optional].join(', ')}`)
  }
  for (const key of required) if (!fields.has(key)) throw new Problem(kindPair, `receiver ${name} (${kind}) needs ${key}`)
  const what = (field: string): string => `receiver ${name} ${field}`
  const optionalString = (field: string): string | undefined =>
    fields.has(field) ? stringOf(fields.get(field, true), what(field), env, secrets, true) : undefined
  switch (kind) {
    case 'webhook': {
      const receiver: Receiver = { name, kind, url: urlOf(fields.get('url', true), what('url'), env, secrets) }
      const secret = optionalString('secret')
      if (secret !== undefined) receiver.secret = secret
      return receiver
    }
    case 'slack':
      return { name, kind, url: urlOf(fields.get('url', true), what('url'), env, secrets) }
    case 'ntfy': {
      const receiver: Receiver = { name, kind, url: urlOf(fields.get('url', true), what('url'), env, secrets) }
      const token = optionalString('token')
      // Sent in a header: a line break (from the environment, say) would fail every send.
      if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw new Problem(fields.get('token', true) as YamlNode, `${what('token')} must be visible ASCII characters, without spaces or line breaks`)
      if (token !== undefined) receiver.token = token
      return receiver
    }
    case 'email': {
      if (!smtp) throw new Problem(kindPair, `receiver ${name} is an email receiver, but SMTP_URL is not set`)
      const toNode = fields.get('to', true)
      const to = stringsOf(toNode, what('to'), env, secrets)
      const wrong = to.find((address) => !/^[^\s@]+@[^\s@]+$/.test(address))
      if (wrong !== undefined) throw new Problem(toNode as YamlNode, `${what('to')} must be e-mail addresses (name@host)`)
      const receiver: Receiver = { name, kind, to }
      if (fields.has('from')) receiver.from = stringOf(fields.get('from', true), what('from'), env, secrets)
      return receiver
    }
  }
}

function durationOf (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>): number {
  const ms = parseDuration(stringOf(node, what, env, secrets))
  if (ms === undefined || ms <= 0) throw new Problem(node as YamlNode, `${what} must be a duration such as 30s, 10m, 1h`)
  return ms
}

function readRoute (node: unknown, what: string, { receivers, timeIntervals }: NotifyConfig, env: Record<string, string | undefined>, secrets: Set<string>): Route {
  const body = mapOf(node, what)
  for (const field of body.items) {
    const key = keyOf(field)
    if (!ROUTE_FIELDS.includes(key)) throw new Problem(field, `${what} has unknown field ${JSON.stringify(key.slice(0, 64))}: a route takes ${ROUTE_FIELDS.join(', ')}`)
  }
  if (!body.has('to')) throw new Problem(body, `${what} needs to: the receivers it sends to`)
  const route: Route = { filter: {}, on: new Set(DEFAULT_ON), to: [] }
  const match = body.get('match', true)
  if (match !== undefined && match !== null) {
    const query: AlertFilterQuery = {}
    for (const pair of mapOf(match, `${what}.match`).items) {
      const word = keyOf(pair) as typeof MATCH_WORDS[number]
      if (!MATCH_WORDS.includes(word)) throw new Problem(pair, `${what}.match has unknown word ${JSON.stringify(keyOf(pair).slice(0, 64))}: one of ${MATCH_WORDS.join(', ')}`)
      query[word] = stringsOf(pair.value, `${what}.match.${word}`, env, secrets).join(',')
    }
    const filter = parseAlertFilter(query)
    if (typeof filter === 'string') throw new Problem(match as YamlNode, `${what}.match: ${filter.replace('querystring/', '')}`)
    route.filter = filter
  }
  const on = body.get('on', true)
  if (on !== undefined) {
    const kinds = stringsOf(on, `${what}.on`, env, secrets)
    const wrong = kinds.find((kind) => !(NOTIFY_KINDS as readonly string[]).includes(kind))
    if (wrong !== undefined) throw new Problem(on as YamlNode, `${what}.on must list only ${NOTIFY_KINDS.join(', ')}; got ${JSON.stringify(wrong.slice(0, 64))}`)
    route.on = new Set(kinds as NotifyKind[])
  }
  const toNode = body.get('to', true)
  route.to = [...new Set(stringsOf(toNode, `${what}.to`, env, secrets))]
  const unknown = route.to.find((name) => !receivers.has(name))
  if (unknown !== undefined) throw new Problem(toNode as YamlNode, `${what}.to names ${JSON.stringify(unknown.slice(0, 64))}, which is not one of the receivers`)
  if (body.has('repeat')) route.repeatMs = durationOf(body.get('repeat', true), `${what}.repeat`, env, secrets)
  if (body.has('group')) route.groupMs = durationOf(body.get('group', true), `${what}.group`, env, secrets)
  if (body.has('mute_time_intervals')) {
    const node = body.get('mute_time_intervals', true)
    const names = [...new Set(stringsOf(node, `${what}.mute_time_intervals`, env, secrets))]
    const unknownName = names.find((name) => !timeIntervals.has(name))
    if (unknownName !== undefined) throw new Problem(node as YamlNode, `${what}.mute_time_intervals names ${JSON.stringify(unknownName.slice(0, 64))}, which is not one of the time_intervals`)
    route.muteTimeIntervals = names
  }
  return route
}

/** One entry of `time_intervals`: `{name, time_intervals: [...]}`. */
function readNamedInterval (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>): { name: string, node: YamlNode, list: TimeInterval[] } {
  const body = mapOf(node, what)
  for (const field of body.items) {
    const key = keyOf(field)
    if (key !== 'name' && key !== 'time_intervals') throw new Problem(field, `${what} has unknown field ${JSON.stringify(key.slice(0, 64))}: it takes name, time_intervals`)
  }
  if (!body.has('name')) throw new Problem(body, `${what} needs name`)
  const nameNode = body.get('name', true) as YamlNode
  const name = stringOf(nameNode, `${what}.name`, env, secrets)
  if (!NAME.test(name)) throw new Problem(nameNode, `${what}.name must be letters, digits, - _ . (64 at most)`)
  const list = body.get('time_intervals', true)
  if (!isSeq(list) || list.items.length === 0) throw new Problem((list ?? body) as YamlNode, `${what}.time_intervals must be a list of at least one interval`)
  return { name, node: nameNode, list: list.items.map((item, i) => readInterval(item, `${what}.time_intervals[${i}]`, env, secrets)) }
}

function readInterval (node: unknown, what: string, env: Record<string, string | undefined>, secrets: Set<string>): TimeInterval {
  const body = mapOf(node, what)
  for (const field of body.items) {
    const key = keyOf(field)
    if (!INTERVAL_FIELDS.includes(key)) throw new Problem(field, `${what} has unknown field ${JSON.stringify(key.slice(0, 64))}: an interval takes ${INTERVAL_FIELDS.join(', ')}`)
  }
  const interval: TimeInterval = { location: 'UTC' }
  if (body.has('location')) {
    const locationNode = body.get('location', true)
    const location = stringOf(locationNode, `${what}.location`, env, secrets)
    if (!knownZone(location)) throw new Problem(locationNode as YamlNode, `${what}.location ${JSON.stringify(location.slice(0, 64))} is not a time zone this server knows (an IANA name such as Europe/Berlin)`)
    interval.location = location
  }
  const ranges = (field: string, names: readonly string[], offset: number, min: number, max: number, example: string): Range[] | undefined => {
    if (!body.has(field)) return undefined
    const fieldNode = body.get(field, true)
    return stringsOf(fieldNode, `${what}.${field}`, env, secrets).map((text) => {
      const range = rangeOf(text, names, offset, min, max)
      if (range === undefined) throw new Problem(fieldNode as YamlNode, `${what}.${field}: ${JSON.stringify(text.slice(0, 64))} is not a value or a range such as ${example}`)
      return range
    })
  }
  const weekdays = ranges('weekdays', WEEKDAYS, 0, 1, 0, 'monday:friday')
  if (weekdays !== undefined) interval.weekdays = weekdays
  const days = ranges('days_of_month', [], 0, -31, 31, '1:7 or -7:-1')
  if (days !== undefined) interval.daysOfMonth = days
  const months = ranges('months', MONTHS, 1, 1, 12, 'january:march or 1:3')
  if (months !== undefined) interval.months = months
  if (body.has('times')) {
    const timesNode = body.get('times', true)
    if (!isSeq(timesNode) || timesNode.items.length === 0) throw new Problem(timesNode as YamlNode, `${what}.times must be a list of {start_time, end_time}`)
    interval.times = timesNode.items.map((item, i) => {
      const range = mapOf(item, `${what}.times[${i}]`)
      for (const field of range.items) {
        const key = keyOf(field)
        if (key !== 'start_time' && key !== 'end_time') throw new Problem(field, `${what}.times[${i}] has unknown field ${JSON.stringify(key.slice(0, 64))}: it takes start_time, end_time`)
      }
      const time = (field: string): number => {
        const valueNode = range.get(field, true)
        if (valueNode === undefined) throw new Problem(range, `${what}.times[${i}] needs ${field}`)
        const minutes = minutesOf(stringOf(valueNode, `${what}.times[${i}].${field}`, env, secrets))
        if (minutes === undefined) throw new Problem(valueNode as YamlNode, `${what}.times[${i}].${field} must be a time HH:MM (00:00 to 24:00)`)
        return minutes
      }
      const start = time('start_time')
      const end = time('end_time')
      if (end <= start) throw new Problem(range, `${what}.times[${i}] must end after it starts (an interval across midnight is two: to 24:00, and from 00:00)`)
      return [start, end] as Range
    })
  }
  return interval
}
