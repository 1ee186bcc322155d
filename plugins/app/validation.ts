import fp from 'fastify-plugin'
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'
import type { TSchema, Static } from '@sinclair/typebox'

export type Check<T> = (data: unknown) => { ok: true, value: T } | { ok: false, message: string }

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles a schema into a check whose failures read like the HTTP 400 messages. */
    compileCheck: <S extends TSchema>(schema: S, dataVar: string) => Check<Static<S>>
  }
}

// One Ajv for HTTP routes and WebSocket frames, so both reject the same input
// with the same words. No type coercion: 123 is not a string.
export function createAjv (): Ajv {
  return new Ajv({ coerceTypes: false, removeAdditional: true, useDefaults: true, allErrors: false, strict: false })
    .addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
    .addFormat('date-time', true)
}

function describe (e: ErrorObject, dataVar: string): string {
  const path = dataVar + e.instancePath
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'required': return `${path}/${String(p.missingProperty)} is required`
    case 'type': return `${path} must be ${String(p.type)}`
    case 'minLength': return `${path} must not be empty`
    case 'maxLength': return `${path} must be at most ${String(p.limit)} characters`
    case 'pattern': return p.pattern === '\\S' ? `${path} must not be blank` : `${path} must match ${String(p.pattern)}`
    default: return `${path} ${e.message ?? 'is invalid'}`
  }
}

export function formatErrors (errors: ErrorObject[] | null | undefined, dataVar: string): string {
  return (errors ?? []).map((e) => describe(e, dataVar)).join(', ') || `${dataVar} is invalid`
}

export default fp(async function validation (fastify) {
  // Bodies are JSON only; anything else is answered 415.
  fastify.removeContentTypeParser('text/plain')
  const ajv = createAjv()
  fastify.setValidatorCompiler(({ schema }) => ajv.compile(schema))
  fastify.setSchemaErrorFormatter((errors, dataVar) => new Error(formatErrors(errors as ErrorObject[], dataVar)))
  fastify.decorate('compileCheck', <S extends TSchema>(schema: S, dataVar: string): Check<Static<S>> => {
    const validate: ValidateFunction = ajv.compile(schema)
    return (data) => validate(data)
      ? { ok: true, value: data as Static<S> }
      : { ok: false, message: formatErrors(validate.errors, dataVar) }
  })
}, { name: 'validation', fastify: '5.x' })
