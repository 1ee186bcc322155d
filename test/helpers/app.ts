import type { FastifyInstance } from 'fastify'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { once } from './wait'
import { build as buildApp, loggerOptions, type AppOptions } from '../../app'
import { loadConfig, type Env } from '../../plugins/app/config'

export interface Teardown { teardown: (fn: () => unknown) => void }
/** App options besides the configuration (a mock clock's timers, see clock.ts). */
export type Extra = Pick<AppOptions, 'timers'>

// The ticker is off and the rate limits out of reach unless a test says otherwise.
// No shedding on event-loop delay either: test files run side by side, and on a
// busy machine the delay passes the default second without the app being at fault.
const testEnv: Env = { ALERT_INTERVAL_MS: 0, RATE_LIMIT_MAX: 1_000_000, AUTH_FAILURE_MAX: 1_000_000, MAX_EVENT_LOOP_DELAY_MS: 0 }

/**
 * The test configuration over `env`. Events stay in memory unless the test
 * chooses a store (STORE, or REDIS_URL alone as in production): the SQLite
 * store has tests of its own, each in a directory of its own.
 */
export function testConfig (env: Env, dataDir?: string): Env {
  const chosen = env.STORE !== undefined || env.REDIS_URL !== undefined
  const store = chosen ? {} : dataDir === undefined ? { STORE: 'memory' } : { STORE: 'sqlite', DATA_DIR: dataDir }
  return { ...testEnv, ...store, ...env }
}

/**
 * With TEST_STORE=sqlite, apps whose test chose no store run on SQLite, each
 * in a fresh directory removed when the test ends: the same tests then prove
 * the SQLite store (test/sqlite-hardening.test.ts runs the hostile ones so).
 */
function testDataDir (t: Teardown): string | undefined {
  if (process.env.TEST_STORE !== 'sqlite') return undefined
  const dir = mkdtempSync(join(tmpdir(), 'alert-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Builds the app exactly as server.ts does, with test config; closed when the test ends. */
export async function build (t: Teardown, env: Env = {}, extra: Extra = {}): Promise<FastifyInstance> {
  const fastify = buildApp(loadConfig(testConfig(env, testDataDir(t))), false, extra)
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return fastify
}

/**
 * Builds the app with the production logger options, writing JSON lines into
 * `lines`. `extend` may add routes before the app is ready; `extra` as build's.
 */
export async function buildLogged (t: Teardown, env: Env = {}, extend?: (fastify: FastifyInstance) => void, extra: Extra = {}): Promise<{ fastify: FastifyInstance, lines: Array<Record<string, unknown>>, text: () => string }> {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) { raw.push(line); lines.push(JSON.parse(line)) }
      done()
    }
  })
  const config = loadConfig(testConfig(env, testDataDir(t)))
  const fastify = buildApp(config, { ...(loggerOptions(config.LOG_LEVEL) as object), stream }, extra)
  extend?.(fastify)
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return { fastify, lines, text: () => raw.join('\n') }
}

/** Builds the app and listens on a free loopback port; returns its base URL too. */
export async function listen (t: Teardown, env: Env = {}, extra: Extra = {}): Promise<{ fastify: FastifyInstance, url: string, wsUrl: string }> {
  const fastify = await build(t, env, extra)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { fastify, url: `http://127.0.0.1:${address.port}`, wsUrl: `ws://127.0.0.1:${address.port}` }
}

/**
 * A loopback port free at the time of asking, for a redis-server of the
 * test's own: it cannot listen on port 0 and say which port it got. Another
 * process may take the port before it is used: PrivateRedis.started starts
 * again on another. Everything else listens on port 0 and reads the port back
 * (the app: listen above; Alertmanager and Prometheus: helpers/monitoring.ts).
 */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}
