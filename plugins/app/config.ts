import fp from 'fastify-plugin'
import envSchema from 'env-schema'
import { isIP } from 'node:net'
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
  [ConfigSchema.properties.RATE_LIMIT_WINDOW.pattern as string]: 'milliseconds, or a positive duration such as "1 minute", "30 s", "2 hours"'
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
    ...checkJwt(config)
  ].filter((p) => p !== undefined)
  if (problems.length > 0) throw new ConfigError(problems.join('; '))
  return config
}

/** Decorates the instance with the configuration it was built from. */
export default fp<{ config: Config }>(async function config (fastify, opts) {
  fastify.decorate('config', opts.config)
}, { name: 'config', fastify: '5.x' })
