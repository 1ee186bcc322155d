import type { Redis, RedisOptions } from 'ioredis'
import type { Log } from '../backend'
import { BackendUnavailableError, OutcomeUnknownError } from '../errors'

// Reconnect forever, at most every 2 s, so that an instance resumes on its own
// when Redis comes back.
const retryStrategy = (times: number): number => Math.min(times * 100, 2000)

/**
 * Commands must fail at once while Redis is away rather than queue: a publish
 * then fails fast instead of hanging, and an append that may already have run
 * is never sent twice.
 */
export const connectionOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // Resubscribing is done here, so that it is known when messages flow again.
  autoResubscribe: false,
  commandTimeout: 5000,
  retryStrategy
}

// Redis refusing for a while (loading, busy, out of memory, a replica) is an
// outage like a lost connection; any other error reply is a fault of this code.
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/

/**
 * Runs a command and turns Redis' failures into domain errors. A command that
 * was never sent (no connection) is unavailable; a write that was sent and not
 * answered (timeout, connection lost in flight) may have taken effect.
 */
export async function guard<T> (command: Promise<T>, write = false): Promise<T> {
  try {
    return await command
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(err.message)) throw err
    const message = err instanceof Error ? err.message : String(err)
    if (write && /timed out|Connection is closed/i.test(message)) {
      throw new OutcomeUnknownError('Redis did not answer in time; the event may have been stored', { cause: err })
    }
    throw new BackendUnavailableError('Redis is unavailable', { cause: err })
  }
}

/** The address of a Redis URL, for people and logs: no user name, no password. */
export function describeRedisUrl (url: string): string {
  const parsed = new URL(url)
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
}

/** Logs one warning per outage of a connection, not one per reconnection attempt, and when it is back. */
export function logOutages (connection: Redis, role: string, log: Log): void {
  let failing = false
  connection.on('error', (err) => {
    if (failing) return
    failing = true
    log.warn({ err, role }, 'redis connection failed; reconnecting')
  })
  connection.on('ready', () => {
    if (failing) log.info({ role }, 'redis connection restored')
    failing = false
  })
}
