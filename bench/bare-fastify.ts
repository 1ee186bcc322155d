import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import { Alert, AlertInput } from '../schemas/events'

/**
 * The HTTP comparison for ingest: Fastify 5 with only POST /alerts, validated and
 * serialized by the project's own TypeBox schemas, stamping and returning the
 * alert. No store, no broadcaster, no plugins, no hooks: what is left between
 * this and the project is what the project adds per request.
 */

const port = Number(process.env.PORT ?? 8000)
const host = process.env.HOST ?? '127.0.0.1'

// The same logger level and body limit the project runs with, so logging
// set-up per request is not counted as a project cost.
const fastify = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' }, bodyLimit: 64 * 1024 })
  .withTypeProvider<TypeBoxTypeProvider>()

fastify.post('/alerts', {
  schema: { body: AlertInput, response: { 200: Alert } }
}, async (request) => {
  const { message, location } = request.body
  return { id: randomUUID(), timestamp: new Date().toISOString(), type: 'alert' as const, message, location }
})

process.on('SIGTERM', () => {
  fastify.close().then(() => process.exit(0), () => process.exit(1))
})

fastify.listen({ port, host }).then(() => {
  console.log(`bare-fastify listening on http://${host}:${port}`)
}, (err: unknown) => {
  console.error(err)
  process.exit(1)
})
