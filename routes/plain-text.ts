import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { AlertInput } from '../schemas/events'
import { httpError } from '../schemas/errors'
import { decodeJsonBody } from '../plugins/app/validation'
import type { Check } from '../plugins/core/client-frames'

/**
 * Plain-text publishing, as ntfy made popular: `curl -d "Backup failed on db1"
 * .../alerts?location=db1`. `curl -d` declares a form, so a form body is taken
 * as text too, as sent (no form decoding), like a text/plain one.
 */
export const TEXT_TYPES = ['text/plain', 'application/x-www-form-urlencoded']

/** Body parser of the text types: UTF-8 only (as JSON), without the final line break a file or `echo` adds. */
export function parseTextBody (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void {
  try {
    done(null, decodeJsonBody(request.headers['content-type'], body, 'text in UTF-8 (text/plain; charset=utf-8)').replace(/\r?\n$/, ''))
  } catch (err) {
    done(err as Error)
  }
}

const FIELDS = ['location', 'severity', 'key', 'tags', 'link'] as const
type Field = (typeof FIELDS)[number]
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A header's value as the client wrote it. Node reads header bytes as Latin-1;
 * curl sends a UTF-8 "São Paulo" as its bytes, so bytes that make UTF-8 are
 * read as UTF-8, and anything else is left as Node read it.
 */
function headerText (value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(value)) return value
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'))
  } catch {
    return value
  }
}

export type TextChecks = Record<Field, (dataVar: string) => Check<unknown>>

/** One check per field, with the rules of the JSON body's field, naming the header or parameter it came from. */
export function textChecks (compileCheck: FastifyInstance['compileCheck']): TextChecks {
  const cache = new Map<string, Check<unknown>>()
  const checkOf = (field: Field) => (dataVar: string): Check<unknown> => {
    const id = `${field} ${dataVar}`
    let check = cache.get(id)
    if (check === undefined) {
      check = compileCheck(AlertInput.properties[field] as TSchema, dataVar)
      cache.set(id, check)
    }
    return check
  }
  return { location: checkOf('location'), severity: checkOf('severity'), key: checkOf('key'), tags: checkOf('tags'), link: checkOf('link') }
}

/**
 * The alert a text body asks for: the body is the message, each other field
 * from its X- header or, without one, its query parameter; each checked by the
 * rules of the JSON form, a mistake answered 400 naming where it came from.
 */
export function textAlert (message: string, request: Pick<FastifyRequest, 'headers' | 'query'>, checks: TextChecks): AlertInput {
  const query = (request.query ?? {}) as Record<string, unknown>
  const input: AlertInput = { message, location: '' }
  for (const field of FIELDS) {
    const header = request.headers[`x-${field}`]
    const given = typeof header === 'string' ? { value: headerText(header), where: `headers/x-${field}` } : { value: query[field], where: `querystring/${field}` }
    if (given.value === undefined) continue
    if (Array.isArray(given.value)) throw httpError('VALIDATION_FAILED', `${given.where} is given ${given.value.length} times; give it once`)
    const value = field === 'tags' && typeof given.value === 'string'
      ? given.value.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '')
      : given.value
    const checked = checks[field](given.where)(value)
    if (!checked.ok) throw httpError('VALIDATION_FAILED', checked.message)
    // An empty list (X-Tags: ,) is no tags.
    if (!Array.isArray(value) || value.length > 0) Object.assign(input, { [field]: value })
  }
  if (input.location === '') throw httpError('VALIDATION_FAILED', 'location is required: send an X-Location header or ?location=')
  return input
}
