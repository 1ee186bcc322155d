/**
 * The cost of one heartbeat check on Redis with many monitors: the time Redis
 * spends on the check's read of the due monitors (ZRANGEBYSCORE of the due
 * index, in heartbeat-read.lua), taken from INFO commandstats, and of the
 * counts /metrics reads, against the read of every monitor that a check (and a
 * scrape) without the index would do. Usage (a
 * Redis on 127.0.0.1:6379; its keys go under a fresh prefix, removed after):
 *
 *   npm run bench:heartbeats                       20,000 monitors, 10 due, 200 checks
 *   npm run bench:heartbeats -- --monitors 50000 --due 100 --checks 500
 *
 * Prints a Markdown table; bench/README.md quotes a run.
 */
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import pino from 'pino'
import { Redis } from 'ioredis'
import { createRedisBackend } from '../plugins/core/redis-backend'

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

function option (name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}

/** Calls and microseconds Redis has spent on EVALSHA so far (the scripts run as EVALSHA). */
async function evalshaStats (redis: Redis): Promise<{ calls: number, usec: number }> {
  const info = await redis.info('commandstats')
  const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info)
  return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) }
}

/** Redis time per call of `step`, run `times` times one after the other, in ms (the server's own measure, not the round trip). */
async function redisMsPerCall (redis: Redis, times: number, step: () => Promise<unknown>): Promise<{ redisMs: number, wallMs: number }> {
  const before = await evalshaStats(redis)
  const started = process.hrtime.bigint()
  for (let i = 0; i < times; i++) await step()
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6 / times
  const after = await evalshaStats(redis)
  return { redisMs: (after.usec - before.usec) / 1000 / Math.max(1, after.calls - before.calls), wallMs }
}

async function main (): Promise<void> {
  const monitors = option('monitors', 20_000)
  const dueCount = option('due', 10)
  const checks = option('checks', 200)
  const prefix = `bench:${randomUUID()}:`
  const backend = createRedisBackend({ url: URL, prefix, historySize: 100, log: pino({ level: 'silent' }) })
  await backend.settled()
  const admin = new Redis(URL)
  const now = Date.now()
  try {
    const settings = { everyMs: 3_600_000, graceMs: 60_000, severity: 'critical' as const, location: 'bench' }
    for (let start = 0; start < monitors; start += 500) {
      await Promise.all(Array.from({ length: Math.min(500, monitors - start) }, async (_, k) => {
        const i = start + k
        // The first `dueCount` are past their deadline; the rest far from it.
        const deadline = i < dueCount ? now - 1000 : now + 3_600_000 + i
        await backend.heartbeats.ping(`monitor-${i}`, settings, { ping: { at: now, kind: 'success', source: '10.0.0.1', userAgent: 'curl/8.5.0' }, deadline, max: monitors })
      }))
    }
    const due = await backend.heartbeats.due(now)
    if (due.length !== dueCount) throw new Error(`expected ${dueCount} due, read ${due.length}`)
    const indexed = await redisMsPerCall(admin, checks, async () => await backend.heartbeats.due(now))
    const counted = await redisMsPerCall(admin, checks, async () => await backend.heartbeats.count(now))
    const whole = await redisMsPerCall(admin, Math.max(1, Math.floor(checks / 20)), async () => await backend.heartbeats.list())
    const rows = [
      ['the due monitors (ZRANGEBYSCORE of the index)', indexed],
      ['the counts by state, for /metrics (HLEN, ZCOUNT)', counted],
      ['every monitor (what a check read before the index)', whole]
    ] as const
    console.log(`${monitors} monitors, ${dueCount} due; Redis ${(await admin.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?'}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}\n`)
    console.log('| read | Redis time per check | wall time per check (with the round trip and decoding) |')
    console.log('| --- | ---: | ---: |')
    for (const [what, { redisMs, wallMs }] of rows) console.log(`| ${what} | ${redisMs.toFixed(3)} ms | ${wallMs.toFixed(3)} ms |`)
  } finally {
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await admin.del(...keys)
      cursor = next
    } while (cursor !== '0')
    admin.disconnect()
    await backend.close()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
