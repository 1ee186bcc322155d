import fp from 'fastify-plugin'
import fastifyEnv from '@fastify/env'
import { ConfigSchema, type Config } from '../../schemas/config'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface ConfigOptions {
  // Values to use instead of the environment and .env (tests pass these).
  env?: Record<string, string | number | boolean | undefined>
}

export default fp<ConfigOptions>(async function config (fastify, opts) {
  const fromCaller = opts.env !== undefined
  await fastify.register(fastifyEnv, {
    // env-schema mutates the schema it is given.
    schema: { ...ConfigSchema },
    dotenv: !fromCaller,
    env: !fromCaller,
    data: opts.env ?? {}
  })
}, { name: 'config', fastify: '5.x' })

/** Splits a comma list such as "GET, POST" into trimmed, non-empty items. */
export function commaList (value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}
