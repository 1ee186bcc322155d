import type { InjectOptions } from 'fastify'
import { build } from './app'
import type { ErrorCode } from '../../schemas/errors'

type Rejection = [name: string, request: { payload?: InjectOptions['payload'], headers?: Record<string, string> }, status: number, message: RegExp, code: ErrorCode]

/**
 * One subtest per way a body can be wrong (see `rejections`): each POST to
 * `url` must get its status, code and words in the one JSON error shape, and
 * `history` must still answer `empty` afterwards. They share one app: building
 * one per case cost more than the cases themselves.
 */
export function testRejections (tap: typeof import('tap'), url: string, limits: Record<string, number>, history: string, empty: unknown, takesText = false): void {
  tap.test(`POST ${url} rejects every malformed body, and stores nothing`, async (t) => {
    const app = await build(t)
    for (const [name, request, status, message, code] of rejections(limits, takesText)) {
      await t.test(`${name}: ${status}`, async (t) => {
        const res = await app.inject({ method: 'POST', url, ...request })
        t.equal(res.statusCode, status)
        const body = res.json()
        t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
        t.equal(body.statusCode, status)
        t.equal(body.code, code)
        t.match(body.message, message)
        t.same((await app.inject(history)).json(), empty)
      })
    }
  })
}

/**
 * Bad requests for a JSON route whose body is an object of non-blank strings
 * with the given maximum lengths: every way a body can be wrong, with the
 * status and the words of the error expected for each. A route that also
 * takes plain text (POST /alerts) reads a form or text body as its message,
 * and then misses the rest.
 */
export function rejections (limits: Record<string, number>, takesText = false): Rejection[] {
  const fields = Object.keys(limits)
  const valid = Object.fromEntries(fields.map((f) => [f, 'ok']))
  const json = { 'content-type': 'application/json' }
  const out: Rejection[] = []
  for (const [field, max] of Object.entries(limits)) {
    const without = { ...valid }
    delete without[field]
    out.push(
      [`missing ${field}`, { payload: without }, 400, new RegExp(`body/${field} is required`), 'VALIDATION_FAILED'],
      [`number ${field}`, { payload: { ...valid, [field]: 123 } }, 400, new RegExp(`body/${field} must be string`), 'VALIDATION_FAILED'],
      [`null ${field}`, { payload: { ...valid, [field]: null } }, 400, new RegExp(`body/${field} must be string`), 'VALIDATION_FAILED'],
      [`object ${field}`, { payload: { ...valid, [field]: { a: 1 } } }, 400, new RegExp(`body/${field} must be string`), 'VALIDATION_FAILED'],
      [`array ${field}`, { payload: { ...valid, [field]: ['ok'] } }, 400, new RegExp(`body/${field} must be string`), 'VALIDATION_FAILED'],
      [`empty ${field}`, { payload: { ...valid, [field]: '' } }, 400, new RegExp(`body/${field} must not be empty`), 'VALIDATION_FAILED'],
      [`blank ${field}`, { payload: { ...valid, [field]: ' \t\n ' } }, 400, new RegExp(`body/${field} must not be blank`), 'VALIDATION_FAILED'],
      [`${field} over ${max} characters`, { payload: { ...valid, [field]: 'x'.repeat(max + 1) } }, 400, new RegExp(`body/${field} must be at most ${max} characters`), 'VALIDATION_FAILED']
    )
  }
  out.push(
    ['empty object', { payload: {} }, 400, /is required/, 'VALIDATION_FAILED'],
    ['array body', { payload: [valid] }, 400, /body must be object/, 'VALIDATION_FAILED'],
    ['string body', { payload: '"hello"', headers: json }, 400, /body must be object/, 'VALIDATION_FAILED'],
    ['null body', { payload: 'null', headers: json }, 400, /body must be object/, 'VALIDATION_FAILED'],
    ['broken JSON', { payload: '{"a": "b",', headers: json }, 400, /not valid JSON/, 'INVALID_JSON'],
    ['empty JSON body', { payload: '', headers: json }, 400, /empty/i, 'INVALID_JSON'],
    ['no body at all', {}, 400, /body must be object/, 'VALIDATION_FAILED'],
    ...(takesText
      ? [
        ['form body without the rest', { payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 400, /location is required/, 'VALIDATION_FAILED'],
        ['text body without the rest', { payload: 'hello', headers: { 'content-type': 'text/plain' } }, 400, /location is required/, 'VALIDATION_FAILED'],
        ['XML body', { payload: '<a/>', headers: { 'content-type': 'application/xml' } }, 415, /application\/xml/, 'UNSUPPORTED_MEDIA_TYPE']
      ] satisfies Rejection[]
      : [
        ['form body', { payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /application\/json/, 'UNSUPPORTED_MEDIA_TYPE'],
        ['text body', { payload: 'hello', headers: { 'content-type': 'text/plain' } }, 415, /text\/plain/, 'UNSUPPORTED_MEDIA_TYPE']
      ] satisfies Rejection[]),
    ['body over 64 KiB', { payload: JSON.stringify({ ...valid, pad: 'x'.repeat(70 * 1024) }), headers: json }, 413, /too large/i, 'BODY_TOO_LARGE']
  )
  return out
}
