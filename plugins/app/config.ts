import fp from 'fastify-plugin'
import envSchema from 'env-schema'
import { isIP } from 'node:net'
import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import Ajv, { type ErrorObject } from 'ajv'
import { commaList, ConfigSchema, type Config } from '../../schemas/config'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export type Env = Record<string, string | number | boolean | undefined>

// env-schema's own Ajv options, plus verbose: each error then carries the
// value refused, wherever it came from (.env included).
// One instance and one schema object for every load, so Ajv compiles the
// schema once per process (it caches by the schema object).
const envAjv = new Ajv({ allErrors: true, removeAdditional: true, useDefaults: true, coerceTypes: true, allowUnionTypes: true, addUsedSchema: false, verbose: true })
// env-schema sets additionalProperties: false on the schema it is given; this copy has it already.
const envSchemaObject = { ...ConfigSchema, additionalProperties: false }

/** An invalid setting: its message is one line naming each variable and what it allows. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

type Property = { type?: string, enum?: string[], minimum?: number, maximum?: number, exclusiveMinimum?: number, maxLength?: number, pattern?: string }

// What a pattern allows, in words.
const PATTERNS: Record<string, string> = {
  '\\S': 'text that is not blank',
  [ConfigSchema.properties.RATE_LIMIT_WINDOW.pattern as string]: 'milliseconds, or a positive duration such as "1 minute", "30 s", "2 hours"',
  [ConfigSchema.properties.RETENTION.pattern as string]: 'a duration: a whole number and a unit (ms, s, m, h, d, w), such as 30d, 12h'
}

/** What a variable of the schema allows, in words: "a whole number from 0 to 65535". */
export function allowed (name: string): string {
  return allowedBy((ConfigSchema.properties as Record<string, Property>)[name] ?? {})
}

/** What a property schema allows, in words; the configuration table of docs/configuration.md says the same (scripts/config-table.ts). */
export function allowedBy (p: Property): string {
  if (p.enum !== undefined) return `one of ${p.enum.join(', ')}`
  if (p.type === 'boolean') return 'true or false'
  if (p.type === 'integer' || p.type === 'number') {
    const what = p.type === 'integer' ? 'a whole number' : 'a number'
    if (p.exclusiveMinimum !== undefined) return `${what} above ${p.exclusiveMinimum}`
    if (p.minimum !== undefined && p.maximum !== undefined) return `${what} from ${p.minimum} to ${p.maximum}`
    if (p.minimum !== undefined) return `${what} of at least ${p.minimum}`
    return what
  }
  const text = p.pattern !== undefined ? PATTERNS[p.pattern] ?? `text matching ${p.pattern}` : 'text'
  return p.maxLength !== undefined ? `${text} of at most ${p.maxLength} characters` : text
}

const invalid = (name: string, value: unknown, allows: string): string =>
  `${name} must be ${allows} (got ${JSON.stringify(String(value))})`

// proxy-addr (what Fastify's trustProxy uses) also knows these names.
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal']

function isAddressOrRange (item: string): boolean {
  if (NAMED_RANGES.includes(item) || isIP(item) !== 0) return true
  const [address, bits, ...rest] = item.split('/')
  const family = isIP(address ?? '')
  return rest.length === 0 && family !== 0 && bits !== undefined && /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

/**
 * The proxies whose X-Forwarded-For is believed, for Fastify's `trustProxy`.
 * A hop count is refused: a client that reaches the server without passing
 * the proxies could then choose its own address (and rate-limit key).
 */
function checkProxies (value: string): string | undefined {
  // 0 was the default of the former hop count: no proxy, as the empty list.
  if (value.trim() === '' || value.trim() === '0') return undefined
  if (/^\s*\d+\s*$/.test(value)) {
    return `TRUST_PROXY must list the proxies' addresses or CIDR ranges, such as 10.0.0.5,10.1.0.0/16 (got ${JSON.stringify(value)}): ` +
      'a hop count would let a client that reaches the server directly choose its own address'
  }
  const wrong = commaList(value).filter((item) => !isAddressOrRange(item))
  if (wrong.length > 0) return invalid('TRUST_PROXY', wrong.join(','), 'a comma list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal')
  return undefined
}

// Secrets are never quoted back: a message about them says what is wrong, not what was given.
function checkJwt ({ JWT_SECRET, JWT_PUBLIC_KEY }: Pick<Config, 'JWT_SECRET' | 'JWT_PUBLIC_KEY'>): Array<string | undefined> {
  return [
    JWT_SECRET !== '' && JWT_PUBLIC_KEY !== '' ? 'set JWT_SECRET or JWT_PUBLIC_KEY, not both' : undefined,
    JWT_SECRET !== '' && JWT_SECRET.length < 32 ? `JWT_SECRET must be at least 32 characters (got ${JWT_SECRET.length})` : undefined
  ]
}

function checkStore ({ STORE, REDIS_URL }: Pick<Config, 'STORE' | 'REDIS_URL'>): string | undefined {
  if (STORE === 'redis' && REDIS_URL === '') return 'STORE=redis needs REDIS_URL (redis://host:port)'
  if ((STORE === 'sqlite' || STORE === 'memory') && REDIS_URL !== '') return `REDIS_URL is set but STORE=${STORE}: unset one of them`
  return undefined
}

/** Where events are kept: STORE, or redis when only REDIS_URL is set (as before STORE existed), else the SQLite file. */
export function storeOf ({ STORE, REDIS_URL }: Pick<Config, 'STORE' | 'REDIS_URL'>): 'sqlite' | 'memory' | 'redis' {
  if (STORE !== '') return STORE
  return REDIS_URL === '' ? 'sqlite' : 'redis'
}

/** The proxies to trust, as Fastify's `trustProxy` takes them; false when there are none. */
export function trustedProxies (config: Pick<Config, 'TRUST_PROXY'>): string[] | false {
  const list = commaList(config.TRUST_PROXY)
  return list.length === 0 || config.TRUST_PROXY.trim() === '0' ? false : list
}

/**
 * Reads and checks the configuration, before any Fastify instance exists (the
 * logger, trustProxy and timeouts depend on it). `env` is the environment to
 * read; with `dotenv`, a .env file in the working directory fills in what the
 * environment does not set. Throws a ConfigError naming every invalid variable.
 */
export function loadConfig (env: Env = process.env, { dotenv = false }: { dotenv?: boolean } = {}): Config {
  let config: Config
  try {
    config = envSchema<Config>({ schema: envSchemaObject, data: { ...env }, env: false, dotenv, ajv: envAjv })
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors
    if (errors === undefined) throw err
    const refused = new Map(errors.map((e) => [e.instancePath.slice(1), e.data]))
    throw new ConfigError([...refused].map(([name, value]) => invalid(name, value, allowed(name))).join('; '))
  }
  const problems = [
    checkProxies(config.TRUST_PROXY),
    config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS
      ? `HEADERS_TIMEOUT_MS must be at most REQUEST_TIMEOUT_MS (${config.REQUEST_TIMEOUT_MS}) (got ${JSON.stringify(String(config.HEADERS_TIMEOUT_MS))})`
      : undefined,
    ...checkJwt(config),
    checkStore(config)
  ].filter((p) => p !== undefined)
  if (problems.length > 0) throw new ConfigError(problems.join('; '))
  return config
}

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours) between two names. */
function distance (a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[]
      const above = d[i - 1] as number[]
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
    }
  }
  return (d[a.length] as number[])[b.length] as number
}

/**
 * The setting an unknown variable was probably meant to be: one whose name
 * differs by case alone, or by one edit (two for long names). Unknown
 * variables are otherwise ignored: the environment holds many (PATH, HOME, a
 * platform's own), so only near misses of this server's names are worth a word.
 */
export function meantSetting (name: string): string | undefined {
  const known = Object.keys(ConfigSchema.properties)
  if (known.includes(name)) return undefined
  const upper = name.toUpperCase()
  const allowedEdits = upper.length >= 8 ? 2 : upper.length >= 4 ? 1 : 0
  let best: { name: string, edits: number } | undefined
  for (const candidate of known) {
    const edits = distance(upper, candidate)
    if (edits <= allowedEdits && (best === undefined || edits < best.edits)) best = { name: candidate, edits }
  }
  return best?.name
}

/**
 * One warning per variable of the environment (and of .env, with `dotenv`)
 * that is not a setting but looks like a misspelt one: `TOKEN_FILE=…` would
 * otherwise start the server with every route open, without a word.
 */
export function misspeltSettings (env: Env = process.env, { dotenv = false }: { dotenv?: boolean } = {}): string[] {
  const names = new Set(Object.keys(env))
  if (dotenv) {
    let text = ''
    try { text = readFileSync('.env', 'utf8') } catch { /* no .env: nothing more to look at */ }
    for (const name of Object.keys(parseEnv(text))) names.add(name)
  }
  return [...names].flatMap((name) => {
    const meant = meantSetting(name)
    return meant === undefined ? [] : [`${name} is not a setting of this server and is ignored: did you mean ${meant}?`]
  })
}

/** Decorates the instance with the configuration it was built from. */
export default fp<{ config: Config }>(async function config (fastify, opts) {
  fastify.decorate('config', opts.config)
}, { name: 'config', fastify: '5.x' })
