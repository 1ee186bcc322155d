/**
 * Silences: for a while, alerts a silence's match takes are notified to
 * nobody (they are still raised, stored, streamed and shown). When a silence
 * ends, alerts it held that are still open and not acknowledged are notified
 * once, as their routes say.
 */
import type { Alert } from '../../schemas/events'
import type { Silence } from './backend'
import { matches, parseAlertFilter, type AlertFilter } from './board'

/** Whether a silence is in force at `now`. */
export const inForce = (silence: Silence, now: number): boolean => silence.startsAt <= now && now < silence.endsAt

const filters = new WeakMap<Silence, AlertFilter>()

/** Whether a silence's match takes the alert (its match was checked when the silence was made). */
export function silences (silence: Silence, alert: Alert): boolean {
  let filter = filters.get(silence)
  if (filter === undefined) {
    const parsed = parseAlertFilter(silence.match)
    // A match that no longer parses takes nothing rather than everything.
    if (typeof parsed === 'string') return false
    filter = parsed
    filters.set(silence, filter)
  }
  return matches(alert, filter)
}

/** The silence in force at `now` that takes the alert, if any. */
export function silencedBy (all: readonly Silence[], alert: Alert, now: number): Silence | undefined {
  return all.find((silence) => inForce(silence, now) && silences(silence, alert))
}
