import type { Alert, Severity } from '../../schemas/events'
import type { HeartbeatMonitor, HeartbeatSettings, HeartbeatStore, Log } from './backend'
import type { Publisher } from './publisher'
import { AlertNotFoundError } from './errors'
import { formatDuration } from './duration'
import { realTimers, repeating, type Timers } from './timers'

export const HEARTBEAT_DEFAULTS = { everyMs: 5 * 60_000, graceMs: 60_000, severity: 'critical' as Severity }

export const HEARTBEAT_STATES = ['up', 'missed'] as const
export type HeartbeatState = typeof HEARTBEAT_STATES[number]

/** The alert key of a monitor: one incident per monitor, repeated or resolved by it. */
export const heartbeatKey = (name: string): string => `heartbeat:${name}`

/** When a monitor's next ping is due at the latest (its grace included). */
export const deadlineOf = (monitor: HeartbeatMonitor): number => monitor.lastPing + monitor.everyMs + monitor.graceMs

/** missed once the deadline has passed (whether or not an instance has raised its alert yet), else up. */
export function stateOf (monitor: HeartbeatMonitor, now: number): HeartbeatState {
  return monitor.missed !== undefined || now >= deadlineOf(monitor) ? 'missed' : 'up'
}

const encodeCursor = (name: string): string => Buffer.from(`name:${name}`).toString('base64url')

/** The monitor name a cursor of GET /heartbeats stands after, or undefined when it is not one this server gave out. */
export function decodeHeartbeatCursor (cursor: string): string | undefined {
  const match = /^name:([A-Za-z0-9_.-]{1,100})$/.exec(Buffer.from(cursor, 'base64url').toString())
  return match?.[1]
}

/** One page of monitors sorted by name: the `limit` after `after`, and the cursor of the next page when more follow. */
export function heartbeatPage (sorted: HeartbeatMonitor[], limit: number, after?: string): { monitors: HeartbeatMonitor[], next?: string } {
  const start = after === undefined ? 0 : sorted.findIndex((monitor) => monitor.name > after)
  const monitors = start < 0 ? [] : sorted.slice(start, start + limit)
  const last = monitors[monitors.length - 1]
  return start >= 0 && start + limit < sorted.length && last !== undefined ? { monitors, next: encodeCursor(last.name) } : { monitors }
}

/** The alert's words for a miss. */
export function missMessage (monitor: HeartbeatMonitor): string {
  return `${monitor.name} missed its heartbeat (expected every ${formatDuration(monitor.everyMs)}, last seen ${new Date(monitor.lastPing).toISOString()})`
}

export interface HeartbeatsOptions {
  store: HeartbeatStore
  publisher: Pick<Publisher, 'publish' | 'act'>
  log: Log
  /** How often every instance looks for misses; a miss is raised at most this late. */
  periodMs: number
  timers?: Pick<Timers, 'now' | 'setTimeout' | 'clearTimeout'>
}

export interface Heartbeats {
  /** Records a ping (creating the monitor on the first); settings left out keep their current values, or the defaults. A ping that ends a miss resolves its alert. */
  ping: (name: string, settings: Partial<HeartbeatSettings>) => Promise<HeartbeatMonitor>
  list: () => Promise<HeartbeatMonitor[]>
  /** Removes a monitor and resolves its alert; undefined when there was none. */
  remove: (name: string) => Promise<HeartbeatMonitor | undefined>
  /** One pass over the monitors, raising the misses this instance claims (the timer calls it; tests may too). */
  check: () => Promise<void>
  start: () => void
  stop: () => void
}

/**
 * Dead-man's switches: a monitor expects a ping every `everyMs`; when none
 * comes within `everyMs + graceMs`, one alert is raised (key heartbeat:<name>,
 * source heartbeat), and the next ping resolves it. Every instance checks; the
 * store lets exactly one claim each miss, so the cluster raises one alert per miss.
 */
export function createHeartbeats ({ store, publisher, log, periodMs, timers = realTimers }: HeartbeatsOptions): Heartbeats {
  /** Resolves the monitor's open alert, if there is one (a person may have resolved it already). */
  async function resolve (name: string, note: string): Promise<void> {
    try {
      await publisher.act({ key: heartbeatKey(name) }, 'resolve', 'heartbeat', note)
    } catch (err) {
      if (!(err instanceof AlertNotFoundError)) throw err
    }
  }

  async function raise (monitor: HeartbeatMonitor): Promise<Alert> {
    return await publisher.publish({
      type: 'alert',
      source: 'heartbeat',
      key: heartbeatKey(monitor.name),
      message: missMessage(monitor),
      location: monitor.location,
      severity: monitor.severity,
      tags: ['heartbeat']
    })
  }

  // Misses this instance claimed and could not raise yet (the backend failed
  // mid-way), by monitor name. The claim stops every other instance from
  // raising them, so this one owes their alerts: each check tries again until
  // the alert is raised or the monitor is pinged or removed.
  const owed = new Map<string, HeartbeatMonitor>()

  /** Whether a ping or a removal has ended the miss of `monitor` (its last ping is no longer the one missed). */
  async function missEnded (monitor: HeartbeatMonitor): Promise<boolean> {
    return (await store.get(monitor.name))?.lastPing !== monitor.lastPing
  }

  async function raiseClaimed (monitor: HeartbeatMonitor): Promise<void> {
    try {
      await raise(monitor)
    } catch (err) {
      owed.set(monitor.name, monitor)
      throw err
    }
    owed.delete(monitor.name)
    // A ping (or a removal) between the claim and the raise found no alert
    // to resolve: this instance resolves it instead.
    if (await missEnded(monitor)) await resolve(monitor.name, 'pinged while its miss was being raised')
  }

  async function miss (monitor: HeartbeatMonitor): Promise<void> {
    if (await store.claimMiss(monitor.name, monitor.lastPing)) await raiseClaimed(monitor)
  }

  /** An owed alert: raised, unless the miss has ended since (then nothing is owed). */
  async function retry (monitor: HeartbeatMonitor): Promise<void> {
    if (await missEnded(monitor)) owed.delete(monitor.name)
    else await raiseClaimed(monitor)
  }

  /** Every monitor gets its turn even when one fails; the first failure is raised at the end (the timer logs it). */
  async function check (): Promise<void> {
    const failures: unknown[] = []
    const attempt = async (step: Promise<void>): Promise<void> => { await step.catch((err: unknown) => { failures.push(err) }) }
    for (const monitor of [...owed.values()]) await attempt(retry(monitor))
    const now = timers.now()
    for (const monitor of await store.list()) {
      if (monitor.missed === undefined && now >= deadlineOf(monitor)) await attempt(miss(monitor))
    }
    if (failures.length > 0) throw failures[0]
  }

  const loop = repeating(check, periodMs, 'heartbeat check', log, timers)

  return {
    async ping (name, settings) {
      const current = await store.get(name)
      const merged: HeartbeatSettings = {
        everyMs: settings.everyMs ?? current?.everyMs ?? HEARTBEAT_DEFAULTS.everyMs,
        graceMs: settings.graceMs ?? current?.graceMs ?? HEARTBEAT_DEFAULTS.graceMs,
        severity: settings.severity ?? current?.severity ?? HEARTBEAT_DEFAULTS.severity,
        location: settings.location ?? current?.location ?? name
      }
      const { monitor, wasMissed } = await store.ping(name, merged, timers.now())
      if (wasMissed) await resolve(name, 'heartbeat received')
      return monitor
    },
    list: store.list,
    async remove (name) {
      const monitor = await store.remove(name)
      if (monitor !== undefined) await resolve(name, 'monitor removed')
      return monitor
    },
    check,
    start: loop.start,
    stop: loop.stop
  }
}
