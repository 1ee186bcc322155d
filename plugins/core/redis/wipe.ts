import type { Redis } from 'ioredis'
import type { HeartbeatMonitor, HeartbeatSettings, HeartbeatStore, Log, WipeWatch } from '../backend'
import { guard } from './connection'

/** What the marker key holds: who wrote it, and why (`seed`: found missing at start; `confirm`: an operator confirmed a wipe). */
interface Marker { by: 'seed' | 'confirm', instance: string, at: string }

export interface WipeWatchOptions {
  command: Redis
  /** The marker key (keys.marker). */
  key: string
  heartbeats: HeartbeatStore
  /** This process, in the marker. */
  instance: string
  log: Log
  now: () => number
}

export const WIPED_REASON = 'REDIS_WIPED: Redis lost this deployment\'s keys while the server ran (FLUSHALL, or a new empty Redis): ' +
  'alerts, history and heartbeat monitors are gone; check, then POST /admin/redis/confirm-wipe'

const confirmedBy = (raw: string): boolean => {
  try {
    return (JSON.parse(raw) as Partial<Marker>).by === 'confirm'
  } catch {
    return false
  }
}

/**
 * Notices that Redis lost this deployment's keys while this instance runs.
 * Every key is under the prefix and most are written only when something
 * happens, so an emptied Redis looks like a quiet one: heartbeat monitors
 * stop being checked and the board is empty, and nothing says why. So a
 * marker key is written when an instance first finds it missing (a new
 * deployment, or one from before the marker), and a check (periodic, and on
 * each reconnection) that finds it gone says so once and keeps saying it
 * (readiness) until an operator confirms, which writes the marker again and
 * restores the heartbeat monitors this instance last saw. A marker written by
 * an instance started after the wipe does not end it: only a confirmation does.
 */
export function createWipeWatch ({ command, key, heartbeats, instance, log, now }: WipeWatchOptions): WipeWatch {
  /** The marker has been seen or written by this instance: from then on, missing means wiped. */
  let armed = false
  let wiped = false
  /** The monitors of the last check that found the marker, for a confirmation to restore. */
  let known: HeartbeatMonitor[] = []
  let running: Promise<void> | undefined

  const marker = (by: Marker['by']): string => JSON.stringify({ by, instance, at: new Date(now()).toISOString() } satisfies Marker)

  async function run (): Promise<void> {
    if (!armed) {
      if (await guard(command.set(key, marker('seed'), 'NX'), true) === 'OK') log.info({ key }, 'Redis keyspace marked: its disappearance will tell a wipe')
      armed = true
      return
    }
    // Read before the marker: a list read after a wipe is never kept as what was known.
    const monitors = await heartbeats.list()
    const raw = await guard(command.get(key))
    if (raw === null) {
      if (!wiped) log.error({ key, monitors: known.length }, 'Redis lost this deployment\'s keys (FLUSHALL, or a new empty Redis): alerts, history and heartbeat monitors are gone; not ready (REDIS_WIPED) until POST /admin/redis/confirm-wipe')
      wiped = true
      return
    }
    if (wiped) {
      if (!confirmedBy(raw)) return
      wiped = false
      log.warn({ key }, 'Redis wipe confirmed on another instance; ready again')
    }
    known = monitors
  }

  return {
    problem: () => wiped ? WIPED_REASON : undefined,

    async check () {
      running ??= run().catch((err: unknown) => {
        // Redis away: its own problem says so; the next check tries again.
        log.debug({ err }, 'Redis wipe check failed')
      }).finally(() => { running = undefined })
      await running
    },

    async confirm () {
      const wasWiped = wiped
      await guard(command.set(key, marker('confirm')), true)
      armed = true
      wiped = false
      let monitorsRestored = 0
      if (wasWiped) {
        const present = new Set((await heartbeats.list()).map((monitor) => monitor.name))
        for (const { name, everyMs, graceMs, severity, location, schedule, tz, lastPing, deadline } of known) {
          if (present.has(name)) continue
          const settings: HeartbeatSettings = { everyMs, graceMs, severity, location }
          if (schedule !== undefined) settings.schedule = schedule
          if (tz !== undefined) settings.tz = tz
          // Its last ping and deadline as they were: one overdue is raised by the next check. Restoring is not refused by the cap.
          await heartbeats.ping(name, settings, { ping: { at: lastPing, kind: 'success' }, deadline, max: Number.MAX_SAFE_INTEGER })
          monitorsRestored++
        }
      }
      log.warn({ wasWiped, monitorsRestored }, 'Redis wipe confirmed: marker written again')
      return { wasWiped, monitorsRestored }
    }
  }
}
