import tap, { type Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { freePort, listen, type Extra, type Teardown } from './app'
import { once, waitFor } from './wait'
import type { RedisBackend } from '../../plugins/core/redis-backend'

/** The Redis every Redis test shares; each test works under its own key prefix. */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379'

// Probed synchronously, once per file, so that a test can be declared skipped.
function probeSharedRedis (): string | undefined {
  const script = `
    const socket = require('node:net').connect(6379, '127.0.0.1')
    socket.setTimeout(1000, () => process.exit(1))
    socket.on('error', () => process.exit(1))
    socket.on('connect', () => socket.write('PING\\r\\n'))
    socket.on('data', (data) => process.exit(String(data).startsWith('+PONG') ? 0 : 1))`
  // Generous: on a machine busy with parallel test files, starting node alone can take seconds.
  const result = spawnSync(process.execPath, ['-e', script], { timeout: 15_000 })
  return result.status === 0 ? undefined : 'no Redis answers on 127.0.0.1:6379'
}

function probeRedisServer (): string | undefined {
  const result = spawnSync('redis-server', ['--version'], { timeout: 3000 })
  return result.status === 0 ? undefined : 'the redis-server binary is not installed'
}

const probes = new Map<string, string | undefined>()
function probe (what: 'shared' | 'server'): string | undefined {
  if (!probes.has(what)) probes.set(what, what === 'shared' ? probeSharedRedis() : probeRedisServer())
  return probes.get(what)
}

/**
 * Declares a test that needs the shared Redis (`shared`, the default) or the
 * redis-server binary to start a private one (`server`). Without them a
 * developer's run skips it and says why; under CI (the CI variable set) it
 * fails instead, so CI never skips a Redis test.
 */
export function redisTest (name: string, fn: (t: Test) => Promise<void>, { shared = true, server = false } = {}): void {
  const reason = (shared ? probe('shared') : undefined) ?? (server ? probe('server') : undefined)
  if (reason === undefined) {
    void tap.test(name, fn)
  } else if (process.env.CI !== undefined && process.env.CI !== '') {
    void tap.test(name, async (t) => {
      t.fail(`${reason}, and CI is set: the Redis tests must run in CI (install redis-server and start it on 127.0.0.1:6379)`)
    })
  } else {
    void tap.test(name, { skip: `${reason}: Redis test skipped (install redis-server and start it on 127.0.0.1:6379 to run it)` }, fn)
  }
}

/** A client for looking into Redis from a test; closed when the test ends. */
export function redisClient (t: Teardown, url = SHARED_REDIS_URL): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => 100 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/**
 * A key prefix of this test's own. Its keys are deleted when the test ends,
 * after the apps (teardowns run last-registered first, and this one comes first).
 */
export function redisPrefix (t: Teardown, url = SHARED_REDIS_URL): string {
  const prefix = `test:${randomUUID()}:`
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  t.teardown(async () => {
    try {
      await deletePrefix(client, prefix)
    } finally {
      client.disconnect()
    }
  })
  return prefix
}

/** Deletes every key under a prefix: a FLUSHALL of one deployment alone. */
export async function deletePrefix (client: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await client.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/** The environment of an instance on the shared Redis under a fresh prefix. */
export function redisEnv (t: Teardown, env: Record<string, string | number> = {}): Record<string, string | number> {
  return { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t), ...env }
}

export interface Instance {
  fastify: FastifyInstance
  url: string
  wsUrl: string
  redis: RedisBackend
}

/** Starts `n` instances of the app on one Redis and prefix, as behind a load balancer. */
export async function cluster (t: Teardown, n: number, env: Record<string, string | number>, extra: Extra = {}): Promise<Instance[]> {
  const out: Instance[] = []
  for (let i = 0; i < n; i++) out.push(await instance(t, env, extra))
  return out
}

export async function instance (t: Teardown, env: Record<string, string | number>, extra: Extra = {}): Promise<Instance> {
  const { fastify, url, wsUrl } = await listen(t, env, extra)
  if (fastify.backend.kind !== 'redis') throw new Error('REDIS_URL was not taken')
  return { fastify, url, wsUrl, redis: fastify.backend as RedisBackend }
}

/**
 * A redis-server of this test's own, on a free port, that the test may stop
 * and start again (never the shared one on 6379). Without `dir` nothing is
 * persisted; with it, SAVE writes dump.rdb there and a start loads it (never
 * saved on its own: a test decides what the dump holds).
 */
export interface PrivateRedisOptions {
  /** Where dump.rdb is written by SAVE and read at start. */
  dir?: string
}

export class PrivateRedis {
  private child: ChildProcess | undefined

  private constructor (readonly port: number, private readonly options: PrivateRedisOptions = {}) {}

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  /**
   * A server not started yet, on a port free at the time of asking: for a test
   * that gives an instance the URL before the server runs. redis-server cannot
   * listen on port 0 and say which port it got (`--port 0` turns TCP off), so
   * the port is picked first; another process may take it in between.
   */
  static async create (t: Teardown, port?: number, options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(port ?? await freePort(), options)
    t.teardown(async () => await redis.stop())
    return redis
  }

  /**
   * A server started at once. When the port picked was taken between picking
   * and binding (tests run side by side), it is started again on another:
   * nothing knows its URL yet. (A restart, by `start` after `stop`, keeps its
   * port: the instances reconnect to that one.)
   */
  static async started (t: Teardown, { attempts = 5, pick = freePort, ...options }: PrivateRedisOptions & { attempts?: number, pick?: () => Promise<number> } = {}): Promise<PrivateRedis> {
    for (let attempt = 1; ; attempt++) {
      const redis = await PrivateRedis.create(t, await pick(), options)
      try {
        await redis.start()
        return redis
      } catch (err) {
        if (attempt >= attempts || !/address already in use/i.test(String(err))) throw err
      }
    }
  }

  /** Starts the server and resolves once it accepts connections. */
  async start (): Promise<void> {
    const dir = this.options.dir === undefined ? [] : ['--dir', this.options.dir, '--dbfilename', 'dump.rdb']
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    let output = ''
    child.stdout?.on('data', (data: Buffer) => { output += data.toString() })
    child.stderr?.on('data', (data: Buffer) => { output += data.toString() })
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`)
      return output.includes('Ready to accept connections')
    }, 10000)
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered, as in a stall. */
  pause (): void {
    this.child?.kill('SIGSTOP')
  }

  /** Lets a paused server run again (SIGCONT): it then executes what it was sent meanwhile. */
  resume (): void {
    this.child?.kill('SIGCONT')
  }

  /** Kills the server at once, as a crash would, and waits until it is gone. */
  async stop (): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit', 10000)
    child.kill('SIGKILL')
    await exited
  }
}
