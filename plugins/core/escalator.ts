import type { ClusterClaim, EventStore, Log } from './backend'
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
  /** With the cluster's claims, one instance reads the open critical alerts per period, not every one. */
  claims?: ClusterClaim
}

export interface Escalator {
  start: () => void
  stop: () => void
  /** One pass over the open critical alerts (the timer calls it; tests may too). */
  check: () => Promise<void>
}

/**
 * Announces critical alerts nobody acknowledged again, every `afterMs` until
 * someone acknowledges or resolves them. Every instance of a cluster checks;
 * the store takes only the first escalation of each revision, so the cluster
 * escalates each alert once per interval.
 */
export function createEscalator ({ afterMs, store, publisher, log, timers = realTimers, claims }: EscalatorOptions): Escalator {
  // Checked often enough that an escalation is late by at most a tenth of the interval (or a second).
  const period = Math.max(10, Math.min(1000, Math.floor(afterMs / 10)))

  async function check (): Promise<void> {
    const now = timers.now()
    // The read is of every open critical alert: in an alert storm, thousands.
    // One instance per period is enough; the claim outlives the period so an
    // instance whose timer runs late cannot take it again.
    if (claims !== undefined && !await claims.claim(`escalation-check:${Math.floor(now / period)}`, 2 * period)) return
    const open = await store.alerts({ unresolved: true, severity: 'critical' })
    for (const { alert } of open) {
      if (escalationDue(alert, afterMs, now)) await publisher.escalate(alert.id, afterMs)
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
