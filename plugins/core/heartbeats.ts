import type { Alert, Severity } from '../../schemas/events'
import type { HeartbeatMonitor, HeartbeatPing, HeartbeatPingKind, HeartbeatSettings, HeartbeatStore, Log } from './backend'
import type { Publisher } from './publisher'
import { AlertNotFoundError, InvalidScheduleError } from './errors'
import { formatDuration } from './duration'
import { cleanText } from './heartbeat-pings'
import { LATEST, nextOccurrence, scheduleProblem } from './schedule'
import { realTimers, repeating, type Timers } from './timers'

export const HEARTBEAT_DEFAULTS = { everyMs: 5 * 60_000, graceMs: 60_000, severity: 'critical' as Severity, tz: 'UTC', max: 1000 }

export const HEARTBEAT_STATES = ['up', 'missed'] as const
export type HeartbeatState = typeof HEARTBEAT_STATES[number]

/** The alert key of a monitor: one incident per monitor, repeated or resolved by it. */
export const heartbeatKey = (name: string): string => `heartbeat:${name}`

/** When a monitor's next ping is due at the latest (its grace included), as the store keeps it. */
export const deadlineOf = (monitor: HeartbeatMonitor): number => monitor.deadline

/**
 * The deadline after a ping at `at`: a started run must end within the grace;
 * otherwise the next ping is expected `every` later, or at the schedule's next
 * occurrence after the ping, and the grace is added.
 */
export function nextDeadline (settings: HeartbeatSettings, kind: HeartbeatPingKind, at: number): number {
  if (kind === 'start') return Math.min(LATEST, at + settings.graceMs)
  const expected = settings.schedule === undefined ? at + settings.everyMs : nextOccurrence(settings.schedule, settings.tz ?? HEARTBEAT_DEFAULTS.tz, at)
  return Math.min(LATEST, expected + settings.graceMs)
}

/** What a ping changes of a monitor's settings: what its query string gave. */
export interface HeartbeatChange {
  everyMs?: number
  graceMs?: number
  severity?: Severity
  location?: string
  schedule?: string
  tz?: string
}

/**
 * The settings after a change: what it leaves out is kept, or the default.
 * `every` replaces a schedule and a schedule replaces `every`; a tz alone
 * moves the current schedule to that zone. Throws InvalidScheduleError for an
 * expression or a zone that cannot be used.
 */
export function mergeSettings (name: string, current: HeartbeatSettings | undefined, change: HeartbeatChange, now: number): HeartbeatSettings {
  let schedule = change.everyMs === undefined ? current?.schedule : undefined
  let tz = schedule === undefined ? undefined : current?.tz
  if (change.schedule !== undefined) {
    schedule = change.schedule
    tz = change.tz ?? tz ?? HEARTBEAT_DEFAULTS.tz
  } else if (change.tz !== undefined) {
    if (schedule === undefined) throw new InvalidScheduleError('tz is the time zone of a schedule; give ?schedule= with it (this monitor has none)')
    tz = change.tz
  }
  const merged: HeartbeatSettings = {
    everyMs: change.everyMs ?? current?.everyMs ?? HEARTBEAT_DEFAULTS.everyMs,
    graceMs: change.graceMs ?? current?.graceMs ?? HEARTBEAT_DEFAULTS.graceMs,
    severity: change.severity ?? current?.severity ?? HEARTBEAT_DEFAULTS.severity,
    location: change.location ?? current?.location ?? name
  }
  if (schedule === undefined) return merged
  const zone = tz ?? HEARTBEAT_DEFAULTS.tz
  const problem = scheduleProblem(schedule, zone, now)
  if (problem !== undefined) throw new InvalidScheduleError(problem)
  // `every` of a scheduled monitor is for people: the gap between its next two occurrences.
  const first = nextOccurrence(schedule, zone, now)
  const second = nextOccurrence(schedule, zone, first)
  return { ...merged, everyMs: second >= LATEST ? merged.everyMs : second - first, schedule, tz: zone }
}

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
  if (monitor.startedAt !== undefined) {
    return `${monitor.name} started a run at ${new Date(monitor.startedAt).toISOString()} and did not finish it within ${formatDuration(monitor.graceMs)}`
  }
  const expected = monitor.schedule === undefined ? `every ${formatDuration(monitor.everyMs)}` : `on schedule ${monitor.schedule} (${monitor.tz ?? HEARTBEAT_DEFAULTS.tz})`
  return `${monitor.name} missed its heartbeat (expected ${expected}, last seen ${new Date(monitor.lastPing).toISOString()})`
}

/** The alert's words for a failure the job reported. */
export function failMessage (name: string, ping: HeartbeatPing): string {
  const status = ping.exitStatus === undefined ? '' : ` (exit status ${ping.exitStatus})`
  const took = ping.durationMs === undefined ? '' : ` after ${formatDuration(ping.durationMs)}`
  return `${name} reported a failure${status}${took}`
}

/** What a ping says, as a route hands it over: its kind and exit status, and where it came from (cleaned here). */
export interface HeartbeatSignal {
  kind: HeartbeatPingKind
  exitStatus?: number
  source?: string
  userAgent?: string
}

export interface HeartbeatsOptions {
  store: HeartbeatStore
  publisher: Pick<Publisher, 'publish' | 'act'>
  log: Log
  /** How often the cluster looks for misses; a miss is raised at most this late. */
  periodMs: number
  /** The most monitors there may be (HEARTBEATS_MAX): a ping for a new name past it is refused. */
  max?: number
  /** Claims one period's check (slot: the period's number) for this instance, so that one instance of a cluster runs each. */
  claim?: (slot: number) => Promise<boolean>
  timers?: Pick<Timers, 'now' | 'setTimeout' | 'clearTimeout'>
}

export interface Heartbeats {
  /**
   * Records a ping (creating the monitor on the first; a success unless the
   * signal says otherwise); settings left out keep their current values, or
   * the defaults. A success that ends a miss resolves its alert; a failure
   * raises one at once (or repeats the open one).
   */
  ping: (name: string, change: HeartbeatChange, signal?: HeartbeatSignal) => Promise<HeartbeatMonitor>
  list: () => Promise<HeartbeatMonitor[]>
  /** One monitor with its kept pings, newest first; undefined when there is none. */
  show: (name: string) => Promise<{ monitor: HeartbeatMonitor, pings: HeartbeatPing[] } | undefined>
  /** Removes a monitor and resolves its alert; undefined when there was none. */
  remove: (name: string) => Promise<HeartbeatMonitor | undefined>
  /** One pass over the due monitors, raising the misses this instance claims (tests call it; the timer calls `tick`). */
  check: () => Promise<void>
  /** The timer's pass: the misses this instance owes, then the check of this period if this instance claims it. */
  tick: () => Promise<void>
  start: () => void
  stop: () => Promise<void>
}

/**
 * Dead-man's switches: a monitor expects a ping every `everyMs` (or at each
 * occurrence of its schedule); when none comes within its grace, one alert is
 * raised (key heartbeat:<name>, source heartbeat), and the next success
 * resolves it. A started run that does not end within the grace is a miss
 * too; a failure the job reports is raised at once. One instance of a
 * cluster checks each period (a claim), and the store lets exactly one claim
 * each miss, so the cluster raises one alert per miss.
 */
export function createHeartbeats ({ store, publisher, log, periodMs, max = HEARTBEAT_DEFAULTS.max, claim, timers = realTimers }: HeartbeatsOptions): Heartbeats {
  /** Resolves the monitor's open alert, if there is one (a person may have resolved it already). */
  async function resolve (name: string, note: string): Promise<void> {
    try {
      await publisher.act({ key: heartbeatKey(name) }, 'resolve', 'heartbeat', note)
    } catch (err) {
      if (!(err instanceof AlertNotFoundError)) throw err
    }
  }

  async function raise (monitor: HeartbeatMonitor, message: string): Promise<Alert> {
    return await publisher.publish({
      type: 'alert',
      source: 'heartbeat',
      key: heartbeatKey(monitor.name),
      message,
      location: monitor.location,
      severity: monitor.severity,
      tags: ['heartbeat']
    })
  }

  // Misses this instance claimed and could not raise yet (the backend failed
  // mid-way), by monitor name. The claim stops every other instance from
  // raising them, so this one owes their alerts: each check tries again until
  // the alert is raised or the monitor is pinged or removed.
  const owed = new Map<string, { monitor: HeartbeatMonitor, message: string }>()

  /** Whether a ping or a removal has ended the miss of `monitor` (its last ping is no longer the one missed). */
  async function missEnded (monitor: HeartbeatMonitor): Promise<boolean> {
    return (await store.get(monitor.name))?.lastPing !== monitor.lastPing
  }

  async function raiseClaimed (monitor: HeartbeatMonitor, message = missMessage(monitor)): Promise<void> {
    try {
      await raise(monitor, message)
    } catch (err) {
      owed.set(monitor.name, { monitor, message })
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
  async function retry ({ monitor, message }: { monitor: HeartbeatMonitor, message: string }): Promise<void> {
    if (await missEnded(monitor)) owed.delete(monitor.name)
    else await raiseClaimed(monitor, message)
  }

  /** Every owed alert and due monitor gets its turn even when one fails; the first failure is raised at the end (the timer logs it). */
  async function pass (claimed: () => Promise<boolean>): Promise<void> {
    const failures: unknown[] = []
    const attempt = async (step: Promise<void>): Promise<void> => { await step.catch((err: unknown) => { failures.push(err) }) }
    for (const entry of [...owed.values()]) await attempt(retry(entry))
    const now = timers.now()
    // Only the due monitors are read (the store's deadline index), not every monitor.
    if (await claimed()) for (const monitor of await store.due(now)) await attempt(miss(monitor))
    if (failures.length > 0) throw failures[0]
  }

  const check = async (): Promise<void> => { await pass(async () => true) }
  // Each instance retries the alerts it owes; the due monitors are read by the one that claims the period.
  const tick = async (): Promise<void> => { await pass(async () => claim === undefined || await claim(Math.floor(timers.now() / periodMs))) }
  const loop = repeating(tick, periodMs, 'heartbeat check', log, timers)

  return {
    async ping (name, change, signal = { kind: 'success' }) {
      const at = timers.now()
      const settings = mergeSettings(name, await store.get(name), change, at)
      const ping: HeartbeatPing = { at, kind: signal.kind }
      if (signal.exitStatus !== undefined) ping.exitStatus = signal.exitStatus
      if (signal.source !== undefined) ping.source = cleanText(signal.source)
      if (signal.userAgent !== undefined) ping.userAgent = cleanText(signal.userAgent)
      const stored = await store.ping(name, settings, { ping, deadline: nextDeadline(settings, signal.kind, at), max })
      if (signal.kind === 'success' && stored.wasMissed) await resolve(name, 'heartbeat received')
      if (signal.kind === 'fail') await raiseClaimed(stored.monitor, failMessage(name, stored.ping))
      return stored.monitor
    },
    list: store.list,
    async show (name) {
      const monitor = await store.get(name)
      return monitor === undefined ? undefined : { monitor, pings: await store.pings(name) }
    },
    async remove (name) {
      const monitor = await store.remove(name)
      if (monitor !== undefined) await resolve(name, 'monitor removed')
      return monitor
    },
    check,
    tick,
    start: loop.start,
    stop: loop.stop
  }
}
