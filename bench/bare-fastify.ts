import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import { newAlert } from '../plugins/core/lifecycle'
import { Alert, AlertInput } from '../schemas/events'
import { createAjv } from '../plugins/app/validation'

/**
 * The HTTP comparison for ingest: Fastify 5 with only POST /alerts, validated and
 * serialized by the project's own TypeBox schemas, stamping and returning the
 * alert. No store, no broadcaster, no plugins, no hooks: what is left between
 * this and the project is what the project adds per request.
 *
 * Two variants: with a logger at the project's level (the default), and with
 * `--no-logger` none at all (Fastify's default), the floor for a route with
 * this schema: a logger costs a child logger per request even when the level
 * filters every line out.
 */

const port = Number(process.env.PORT ?? 8000)
const host = process.env.HOST ?? '127.0.0.1'
const withLogger = !process.argv.includes('--no-logger')

// The same body limit the project runs with; with a logger, also the same level.
const fastify = Fastify({ logger: withLogger ? { level: process.env.LOG_LEVEL ?? 'warn' } : false, bodyLimit: 64 * 1024 })
  .withTypeProvider<TypeBoxTypeProvider>()

// The project's validator (its options and its extension keyword), so the
// same schema means the same checks.
const ajv = createAjv()
fastify.setValidatorCompiler(({ schema }) => ajv.compile(schema))

fastify.post('/alerts', {
  schema: { body: AlertInput, response: { 200: Alert } }
}, async (request) => {
  return newAlert(randomUUID(), Date.now(), request.body, 'api')
})

process.on('SIGTERM', () => {
  fastify.close().then(() => process.exit(0), () => process.exit(1))
})

fastify.listen({ port, host }).then(() => {
  console.log(`bare-fastify${withLogger ? '' : ' (no logger)'} listening on http://${host}:${port}`)
}, (err: unknown) => {
  console.error(err)
  process.exit(1)
})
