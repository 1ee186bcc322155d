import tap, { type Test } from 'tap'
import pino from 'pino'
import type { Backend } from '../../plugins/core/backend'
import { createMemoryBackend } from '../../plugins/core/memory-backend'
import { createSqliteBackend } from '../../plugins/core/sqlite-backend'
import { createRedisBackend } from '../../plugins/core/redis-backend'
import { SHARED_REDIS_URL, redisEnv, redisPrefix, redisTest } from './redis'

/** The three backends behind the one seam; the contract suite runs every behaviour on each. */
export const BACKEND_KINDS = ['memory', 'sqlite', 'redis'] as const
export type BackendKind = typeof BACKEND_KINDS[number]

export interface BackendOptions {
  /** Events of each stream kept for replay (memory, Redis) or reached by it (SQLite). */
  replayWindow?: number
  openAlertsMax?: number
  now?: () => number
  /** SQLite: the directory (a fresh one of the test's by default); the same one again is a restart. */
  dir?: string
}

const log = pino({ level: 'silent' })

/** A backend of this kind, closed when the test ends. */
export async function makeBackend (t: Test, kind: BackendKind, { replayWindow = 1000, openAlertsMax, now, dir }: BackendOptions = {}): Promise<Backend> {
  const common = { openAlertsMax, ...(now === undefined ? {} : { now }) }
  let backend: Backend
  if (kind === 'memory') {
    backend = createMemoryBackend({ historySize: replayWindow, ...common })
  } else if (kind === 'sqlite') {
    backend = createSqliteBackend({ dir: dir ?? t.testdir(), replayWindow, ...common, log })
  } else {
    const redis = createRedisBackend({ url: SHARED_REDIS_URL, prefix: redisPrefix(t), historySize: replayWindow, ...common, log })
    await redis.settled()
    backend = redis
  }
  t.teardown(async () => await backend.close())
  return backend
}

/** Declares a test on one kind of backend: a Redis one is skipped, with a reason, where no Redis runs (and fails under CI). */
export function backendTest (kind: BackendKind, name: string, fn: (t: Test) => Promise<void>): void {
  if (kind === 'redis') redisTest(`redis: ${name}`, fn)
  else void tap.test(`${kind}: ${name}`, fn)
}

/** The environment of an app on this kind of backend (SQLite: in a directory of the test's own; Redis: under a fresh prefix). */
export function backendEnv (t: Test, kind: BackendKind, env: Record<string, string | number> = {}): Record<string, string | number> {
  if (kind === 'memory') return { STORE: 'memory', ...env }
  if (kind === 'sqlite') return { STORE: 'sqlite', DATA_DIR: t.testdir(), ...env }
  return redisEnv(t, env)
}
