import type { HeartbeatMonitor, HeartbeatPing, HeartbeatPingWrite, HeartbeatSettings } from './backend'

/** How many pings each monitor keeps, oldest dropped. */
export const HEARTBEAT_PINGS_KEPT = 100

/** A user agent as kept: control characters replaced, well-formed, at most this long. */
export const USER_AGENT_MAX = 200

/** A user agent (or another client-sent text) as a ping keeps it: no control characters, well-formed Unicode, cut to `max`. */
export function cleanText (text: string, max = USER_AGENT_MAX): string {
  const clean = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  return [...clean].slice(0, max).join('')
}

/** What a store of one process records for a ping: the monitor after it, whether it was missed, and the ping with its run's duration. */
export function applyPing (prior: HeartbeatMonitor | undefined, name: string, settings: HeartbeatSettings, { ping, deadline }: HeartbeatPingWrite):
{ monitor: HeartbeatMonitor, wasMissed: boolean, ping: HeartbeatPing } {
  const wasMissed = prior?.missed !== undefined
  const monitor: HeartbeatMonitor = { name, ...settings, lastPing: ping.at, deadline }
  const recorded: HeartbeatPing = { ...ping }
  if (ping.kind === 'start') {
    monitor.startedAt = ping.at
    // A start neither ends a miss nor makes one: the run's end does.
    if (prior?.missed !== undefined) monitor.missed = prior.missed
  } else {
    if (prior?.startedAt !== undefined) recorded.durationMs = Math.max(0, ping.at - prior.startedAt)
    if (ping.kind === 'fail') monitor.missed = prior?.missed ?? ping.at
  }
  return { monitor, wasMissed, ping: recorded }
}
