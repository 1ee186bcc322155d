import fp from 'fastify-plugin'
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'
import fastJsonStringify from 'fast-json-stringify'
import type { TSchema, Static } from '@sinclair/typebox'
import { DURATION_PATTERN, LINK_PATTERN, NOT_BLANK, UUID, VISIBLE_ASCII, WELL_FORMED } from '../../schemas/events'
import { HEARTBEAT_NAME_PATTERN, HEARTBEAT_SIGNAL_PATTERN } from '../../schemas/integrations'
import { httpError } from '../../schemas/errors'
import type { Check } from '../core/client-frames'

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles a schema into a check whose failures read like the HTTP 400 messages. */
    compileCheck: <S extends TSchema>(schema: S, dataVar: string) => Check<Static<S>>
  }
}

// Under the u flag a surrogate pair is one code point, so \p{Cs} only matches a lone half.
const LONE_SURROGATE = /\p{Cs}/u

// One Ajv for HTTP routes and WebSocket frames, so both reject the same input
// with the same words. No type coercion: 123 is not a string.
export function createAjv (coerceTypes = false): Ajv {
  return new Ajv({ coerceTypes, removeAdditional: true, useDefaults: true, allErrors: false, strict: false })
    .addFormat('uuid', UUID)
    .addFormat('date-time', true)
    .addKeyword({
      keyword: WELL_FORMED,
      type: 'string',
      schemaType: 'boolean',
      errors: false,
      validate: (wanted: boolean, data: string) => !wanted || !LONE_SURROGATE.test(data)
    })
}

/** What each pattern of the schemas asks for, in words: a message never shows a regular expression. */
export const PATTERN_WORDS: Readonly<Record<string, string>> = {
  [NOT_BLANK]: 'must not be blank',
  '\\S': 'must not be blank',
  [LINK_PATTERN]: 'must be an http or https URL, such as https://runbooks.example.com/disk-full',
  [VISIBLE_ASCII]: 'must be visible ASCII characters (no spaces)',
  // Grafana's fingerprint: empty is allowed (it is then computed from the labels).
  '^[\\x21-\\x7e]*$': 'must be visible ASCII characters (no spaces), or empty',
  [DURATION_PATTERN]: 'must be a duration: a whole number and a unit (ms, s, m, h, d or w), such as 30s, 5m, 2h, 1d',
  [HEARTBEAT_NAME_PATTERN]: 'must be letters, digits, -, _ and . only',
  [HEARTBEAT_SIGNAL_PATTERN]: 'must be ping, start, fail, or an exit status from 0 to 255'
}

/** What each format asks for, in words. */
const FORMAT_WORDS: Readonly<Record<string, string>> = {
  uuid: 'must be a UUID, such as 7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8',
  'date-time': 'must be an ISO 8601 date-time, such as 2026-01-01T12:00:00Z'
}

function describe (e: ErrorObject, dataVar: string): string {
  const path = dataVar + e.instancePath
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'required': return `${path}/${String(p.missingProperty)} is required`
    case 'type': return `${path} must be ${String(p.type)}`
    case 'enum': return `${path} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`
    case 'minLength': return `${path} must not be empty`
    case 'maxLength': return `${path} must be at most ${String(p.limit)} characters`
    case 'maxItems': return `${path} must have at most ${String(p.limit)} items`
    case 'minimum': return `${path} must be at least ${String(p.limit)}`
    case 'maximum': return `${path} must be at most ${String(p.limit)}`
    case 'pattern': return `${path} ${PATTERN_WORDS[String(p.pattern)] ?? 'is not in the expected form'}`
    case 'format': return `${path} ${FORMAT_WORDS[String(p.format)] ?? `must be ${String(p.format)}`}`
    case WELL_FORMED: return `${path} must be well-formed Unicode (no lone surrogates)`
    default: return `${path} ${e.message ?? 'is invalid'}`
  }
}

export function formatErrors (errors: ErrorObject[] | null | undefined, dataVar: string): string {
  return (errors ?? []).map((e) => describe(e, dataVar)).join(', ') || `${dataVar} is invalid`
}

// A charset parameter, possibly quoted; absent means UTF-8 for JSON (RFC 8259).
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Reads a JSON (or plain-text) body as UTF-8 and nothing else: a body declared in another
 * charset gets 415, bytes that are not UTF-8 get 400 (Node would otherwise
 * replace them with U+FFFD and store text the client never sent).
 */
export function decodeJsonBody (contentType: string | undefined, body: Buffer, wanted = 'JSON in UTF-8 (application/json; charset=utf-8)'): string {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw httpError('UNSUPPORTED_CHARSET', `charset ${JSON.stringify(charset)} is not supported; send ${wanted}`)
  }
  try {
    return strictUtf8.decode(body)
  } catch {
    throw httpError('INVALID_UTF8', 'body is not valid UTF-8')
  }
}

// Compiled once per process, not once per instance: the route schemas are
// module constants, and Ajv caches what it compiled by the schema object. A
// process that builds the app many times (the tests, several instances in one
// process) otherwise spends most of each build generating the same code again.
const ajv = createAjv()
// Query strings, path parameters and headers are text by nature: "100" is the number 100 there.
const textual = createAjv(true)
const serializers = new WeakMap<object, (data: unknown) => string>()

/** fast-json-stringify's serializer for a response schema, compiled once per schema object. */
function serializerFor (schema: object): (data: unknown) => string {
  let serialize = serializers.get(schema)
  if (serialize === undefined) {
    serialize = fastJsonStringify(schema)
    serializers.set(schema, serialize)
  }
  return serialize
}

/**
 * Why a body the JSON parser refused was refused: valid JSON with a key that
 * could poison prototypes, or a syntax error (V8's words, without the quote of
 * the input some of them carry). Undefined when there is nothing to add.
 */
export function jsonProblem (text: string): string | undefined {
  try {
    JSON.parse(text)
    return 'Body has a "__proto__" or "constructor": {"prototype": …} key, which is refused'
  } catch (err) {
    if (!(err instanceof SyntaxError)) return undefined
    return `Body is not valid JSON: ${err.message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')}`
  }
}

/** The header that names the body fields a request sent and the server dropped. */
export const IGNORED_FIELDS_HEADER = 'ignored-fields'
// A body of 64 KiB could name thousands: the first few say enough.
const MAX_IGNORED_NAMED = 20
const MAX_IGNORED_NAME = 100

/**
 * The fields of `body` that `schema` (an object schema that drops what it does
 * not list) does not know, percent-encoded so that any name fits in a header.
 */
export function ignoredFields (schema: unknown, body: unknown): string[] {
  // A route that takes several content types (POST /alerts: JSON or plain text) has a schema per type; a JSON body is checked by the JSON one.
  const perType = (schema as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema
  const s = (perType ?? schema) as { properties?: Record<string, unknown>, additionalProperties?: unknown } | undefined
  if (s?.properties === undefined || s.additionalProperties !== false) return []
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return []
  const known = s.properties
  return Object.keys(body).filter((name) => !Object.hasOwn(known, name))
    .slice(0, MAX_IGNORED_NAMED)
    .map((name) => encodeURIComponent(name.slice(0, MAX_IGNORED_NAME)))
}

export default fp(async function validation (fastify) {
  // Unknown body fields are dropped, as the original service did; the answer
  // names them, so that a misspelt field ({"severty": ...}) does not pass unseen.
  fastify.addHook('preValidation', async (request, reply) => {
    const ignored = ignoredFields(request.routeOptions.schema?.body, request.body)
    if (ignored.length > 0) void reply.header(IGNORED_FIELDS_HEADER, ignored.join(', '))
  })
  // Bodies are JSON only; anything else is answered 415.
  fastify.removeContentTypeParser('text/plain')
  // Fastify's own JSON parser (prototype-poisoning checks included), after a strict UTF-8 decode.
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = decodeJsonBody(request.headers['content-type'], body as Buffer)
    } catch (err) {
      done(err as Error, undefined)
      return
    }
    parseJson(request, text, (err, body) => {
      if (err === null) { done(null, body); return }
      // Only on the way out: say what is wrong, which Fastify's message does not.
      const problem = (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? jsonProblem(text) : undefined
      done(problem === undefined ? err : Object.assign(err, { message: problem }), undefined)
    })
  })
  fastify.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv : textual).compile(schema))
  // Fastify's own serializer compiler (fast-json-stringify, no shared schemas), cached the same way.
  fastify.setSerializerCompiler(({ schema }) => serializerFor(schema))
  fastify.setSchemaErrorFormatter((errors, dataVar) => new Error(formatErrors(errors as ErrorObject[], dataVar)))
  fastify.decorate('compileCheck', <S extends TSchema>(schema: S, dataVar: string): Check<Static<S>> => {
    const validate: ValidateFunction = ajv.compile(schema)
    return (data) => validate(data)
      ? { ok: true, value: data as Static<S> }
      : { ok: false, message: formatErrors(validate.errors, dataVar) }
  })
}, { name: 'validation', fastify: '5.x' })
