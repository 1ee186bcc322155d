import type { Alert } from '../../schemas/events'
import type { EventStore, Log } from './backend'
import type { Publisher } from './publisher'
import { escalationDue } from './lifecycle'
import { realTimers, repeating, type Timers } from './timers'

export interface EscalatorOptions {
  /** How long a critical alert may stay open (not acknowledged) before it is announced again; 0 turns it off. */
  afterMs: number
  store: Pick<EventStore, 'alerts'>
  publisher: Pick<Publisher, 'escalate'>
  log: Log
  timers?: Pick<Timers, 'now' | 'setTimeout' | 'clearTimeout'>
  /**
   * Whether this process makes the check of a period (slot = floor(time /
   * escalationPeriod(afterMs))), as the ticker claims its slots: each check
   * reads every open critical alert, and one instance of a cluster is enough.
   * Without it, every check is made.
   */
  claim?: (slot: number) => Promise<boolean>
  /** Whether a silence holds the alert: a held alert is not escalated (nobody would be told). */
  held?: (alert: Alert) => boolean
  /**
   * When a silence that held the alert ended and its release was notified, if
   * that is known: the clock restarts there, so the release message is not
   * followed by an escalation at once.
   */
  releasedAt?: (alert: Alert) => number | undefined
}

/** How often the alerts are checked: an escalation is late by at most a tenth of the interval (or a second). */
export const escalationPeriod = (afterMs: number): number => Math.max(10, Math.min(1000, Math.floor(afterMs / 10)))

export interface Escalator {
  start: () => void
  stop: () => Promise<void>
  /** One pass over the open critical alerts (the timer calls it; tests may too). */
  check: () => Promise<void>
}

/**
 * Announces critical alerts nobody acknowledged again, every `afterMs` until
 * someone acknowledges or resolves them. Every instance of a cluster checks;
 * the store takes only the first escalation of each revision, so the cluster
 * escalates each alert once per interval.
 */
export function createEscalator ({ afterMs, store, publisher, log, timers = realTimers, claim, held = () => false, releasedAt = () => undefined }: EscalatorOptions): Escalator {
  const period = escalationPeriod(afterMs)

  async function check (): Promise<void> {
    const now = timers.now()
    if (claim !== undefined && !await claim(Math.floor(now / period))) return
    const open = await store.alerts({ unresolved: true, severity: 'critical' })
    for (const { alert } of open) {
      if (!escalationDue(alert, afterMs, now) || held(alert)) continue
      const released = releasedAt(alert)
      if (released === undefined || now - released >= afterMs) await publisher.escalate(alert.id, afterMs)
    }
  }

  const loop = repeating(check, period, 'escalation check', log, timers)

  return {
    start () {
      if (afterMs > 0) loop.start()
    },
    stop: loop.stop,
    check
  }
}
