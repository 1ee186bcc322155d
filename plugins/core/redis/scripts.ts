import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Result } from 'ioredis'
import type { Expect, Once } from '../backend'
import type { RedisKeys } from './keys'

/**
 * The Lua steps of the Redis backend, one file each beside this one (the build
 * copies them into dist/), loaded when a backend is created. Each runs
 * atomically in Redis, so every instance sees one history and one channel
 * order. A script names each of its inputs (`local history = KEYS[2]`); the
 * helper of that script below builds its inputs by the same names, in the same
 * order (test/redis-scripts.test.ts holds the two together).
 */

/** One call of a script: its keys and its arguments, by name, in the order the script reads them. */
export interface ScriptCall {
  keys: Record<string, string>
  argv: Record<string, string | number>
}

/** The arguments of a command defined without a fixed number of keys: the count, the keys, the arguments. */
export function scriptArgs ({ keys, argv }: ScriptCall): Array<string | number> {
  const names = Object.values(keys)
  return [names.length, ...names, ...Object.values(argv)]
}

/** The script files, by the command each defines on the connection. */
export const SCRIPT_FILES = {
  appendEvent: 'append.lua',
  readAlerts: 'read-alerts.lua',
  eventRange: 'range.lua',
  heartbeatPing: 'heartbeat-ping.lua',
  heartbeatMiss: 'heartbeat-miss.lua',
  heartbeatRead: 'heartbeat-read.lua'
} as const

type ScriptName = keyof typeof SCRIPT_FILES

/** The scripts, read from their files, as ioredis' `scripts` option takes them (the number of keys is each call's first argument). */
export function loadScripts (dir: string = __dirname): Record<ScriptName, { lua: string }> {
  const out: Partial<Record<ScriptName, { lua: string }>> = {}
  for (const [name, file] of Object.entries(SCRIPT_FILES) as Array<[ScriptName, string]>) {
    out[name] = { lua: readFileSync(join(dir, file), 'utf8') }
  }
  return out as Record<ScriptName, { lua: string }>
}

type Args = Array<string | number>
declare module 'ioredis' {
  interface RedisCommander<Context> {
    appendEvent: (...args: Args) => Result<Array<string | number>, Context>
    readAlerts: (...args: Args) => Result<Array<string | null>, Context>
    eventRange: (...args: Args) => Result<Array<string | number>, Context>
    heartbeatPing: (...args: Args) => Result<number, Context>
    heartbeatMiss: (...args: Args) => Result<number, Context>
    heartbeatRead: (...args: Args) => Result<string[], Context>
  }
}

/** What append.lua stores: the event, the alert it carries (if any), what must still hold, and its idempotency key. */
export interface AppendInput {
  id: string
  json: string
  stream: 'alert' | 'chat'
  expect: Expect
  alert: { id: string, json: string, state: string, severity: string, key: string } | undefined
  once: Once | undefined
  historySize: number
  openAlertsMax: number
}

/** append.lua: append an event, fold its alert, publish it. */
export function appendCall (keys: RedisKeys, input: AppendInput): ScriptCall {
  const { expect, alert, once } = input
  return {
    keys: {
      seqKey: keys.seq,
      history: keys.history[input.stream],
      ids: keys.ids,
      seqs: keys.seqs,
      alerts: keys.alerts,
      revs: keys.revs,
      raisedSet: keys.raised,
      openKeys: keys.openKeys,
      alertKeys: keys.keys,
      unresolvedInfo: keys.unresolved.info,
      unresolvedWarning: keys.unresolved.warning,
      unresolvedCritical: keys.unresolved.critical,
      resolvedSet: keys.resolved,
      onceKey: keys.idempotency(once?.key ?? ''),
      evicted: keys.evicted,
      acknowledgedSet: keys.acknowledged
    },
    argv: {
      eventId: input.id,
      eventJson: input.json,
      historySize: input.historySize,
      channel: keys.channel,
      expectKind: expect.kind,
      expectKey: expect.kind === 'key-free' ? expect.key : expect.kind === 'rev' ? expect.alertId : '',
      expectRev: expect.kind === 'rev' ? expect.rev : '',
      alertId: alert?.id ?? '',
      alertJson: alert?.json ?? '',
      alertState: alert?.state ?? '',
      alertSeverity: alert?.severity ?? '',
      alertKey: alert?.key ?? '',
      unresolvedMax: input.openAlertsMax,
      onceTtlMs: once === undefined ? '' : once.ttlMs
    }
  }
}

export type ReadAlertsMode = 'id' | 'key' | 'set' | 'newest'

/** read-alerts.lua: alerts by id, by open key, every member of a set, or the newest of a set below a score. */
export function readAlertsCall (keys: RedisKeys, mode: ReadAlertsMode, value: string, listed: string, below: string): ScriptCall {
  return {
    keys: { alerts: keys.alerts, revs: keys.revs, raisedSet: keys.raised, openKeys: keys.openKeys, listed },
    argv: { mode, value, below }
  }
}

export type RangeMode = 'all' | 'id' | 'seq'

/** range.lua: the retained events of both streams after an id or a sequence number (or all), in order; the first `limit` (0: all). */
export function rangeCall (keys: RedisKeys, mode: RangeMode, after: string, limit = 0): ScriptCall {
  return {
    keys: { seqKey: keys.seq, alertHistory: keys.history.alert, chatHistory: keys.history.chat, ids: keys.ids, evicted: keys.evicted },
    argv: { mode, after, limit: String(limit) }
  }
}

const heartbeatKeys = (keys: RedisKeys): ScriptCall['keys'] =>
  ({ settings: keys.heartbeats.settings, last: keys.heartbeats.last, missed: keys.heartbeats.missed })

/** heartbeat-ping.lua: store a ping and its settings, ending a miss. */
export function heartbeatPingCall (keys: RedisKeys, name: string, settingsJson: string, at: number): ScriptCall {
  return { keys: heartbeatKeys(keys), argv: { name, settingsJson, at: String(at) } }
}

/** heartbeat-miss.lua: claim the miss of the ping the caller saw. */
export function heartbeatMissCall (keys: RedisKeys, name: string, lastPing: number): ScriptCall {
  return { keys: heartbeatKeys(keys), argv: { name, lastPing: String(lastPing) } }
}

/** heartbeat-read.lua: every monitor, one, or one removed as it is read. */
export function heartbeatReadCall (keys: RedisKeys, mode: 'all' | 'one' | 'remove', name: string): ScriptCall {
  return { keys: heartbeatKeys(keys), argv: { mode, name } }
}
