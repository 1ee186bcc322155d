import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Result } from 'ioredis'
import type { DeliveryStatus, Expect, Once, OutboxDraft, Settlement } from '../backend'
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
  heartbeatRead: 'heartbeat-read.lua',
  outboxWrite: 'outbox-write.lua',
  outboxClaim: 'outbox-claim.lua',
  outboxSettle: 'outbox-settle.lua',
  outboxRecent: 'outbox-recent.lua'
} as const

type ScriptName = keyof typeof SCRIPT_FILES

/** Files included into scripts (a line `-- include <file>`), not scripts of their own. */
export const INCLUDED_FILES = ['outbox-entries.lua'] as const

/** A script's text with each `-- include <file>` line replaced by that file (Redis runs one text per script). */
export function scriptText (dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').replace(/^-- include (\S+\.lua)$/gm, (_line, included: string) => readFileSync(join(dir, included), 'utf8'))
}

/** The scripts, read from their files, as ioredis' `scripts` option takes them (the number of keys is each call's first argument). */
export function loadScripts (dir: string = __dirname): Record<ScriptName, { lua: string }> {
  const out: Partial<Record<ScriptName, { lua: string }>> = {}
  for (const [name, file] of Object.entries(SCRIPT_FILES) as Array<[ScriptName, string]>) {
    out[name] = { lua: scriptText(dir, file) }
  }
  return out as Record<ScriptName, { lua: string }>
}

type Args = Array<string | number>
declare module 'ioredis' {
  interface RedisCommander<Context> {
    appendEvent: (...args: Args) => Result<Array<string | number>, Context>
    readAlerts: (...args: Args) => Result<Array<string | null>, Context>
    eventRange: (...args: Args) => Result<Array<string | number>, Context>
    heartbeatPing: (...args: Args) => Result<[number, string, string], Context>
    heartbeatMiss: (...args: Args) => Result<number, Context>
    heartbeatRead: (...args: Args) => Result<string[], Context>
    outboxWrite: (...args: Args) => Result<number, Context>
    outboxClaim: (...args: Args) => Result<string[][], Context>
    outboxSettle: (...args: Args) => Result<number, Context>
    outboxRecent: (...args: Args) => Result<string[][], Context>
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
  /** The event's notifications, worked out from the silences at revision `silencesSeen`; undefined when nothing is routed. */
  notify: { drafts: OutboxDraft[], silencesSeen: string, createdAt: number } | undefined
}

/** The drafts as the scripts write them: each with the keys it goes under. */
function draftsJson (keys: RedisKeys, drafts: OutboxDraft[]): string {
  return JSON.stringify(drafts.map((d) => ({
    id: d.id,
    receiver: d.receiver,
    kind: d.kind,
    ...(d.groupMs === undefined ? {} : { groupMs: d.groupMs }),
    entryKey: keys.outbox.entry(d.id),
    dueKey: keys.outbox.due(d.receiver),
    groupKey: keys.outbox.group(d.receiver)
  })))
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
      acknowledgedSet: keys.acknowledged,
      silencesRev: keys.silencesRev,
      outboxSeq: keys.outbox.seq,
      outboxReceivers: keys.outbox.receivers,
      outboxOrder: keys.outbox.order,
      outboxPending: keys.outbox.pending
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
      onceTtlMs: once === undefined ? '' : once.ttlMs,
      silencesSeen: input.notify?.silencesSeen ?? '',
      drafts: draftsJson(keys, input.notify?.drafts ?? []),
      createdAt: input.notify?.createdAt ?? 0
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

const heartbeatKeys = (keys: RedisKeys, name: string): ScriptCall['keys'] => {
  const { settings, last, missed, deadline, started, due, pings } = keys.heartbeats
  return { settings, last, missed, deadlines: deadline, started, due, pings: pings(name) }
}

export interface HeartbeatPingArgs {
  settingsJson: string
  at: number
  kind: string
  deadline: number
  max: number
  /** The ping as JSON, without its duration (the script adds it when the ping ends a started run). */
  pingJson: string
  kept: number
}

/** heartbeat-ping.lua: store a ping and its settings, refused for a new name past the cap; ends, makes or keeps a miss by its kind. */
export function heartbeatPingCall (keys: RedisKeys, name: string, args: HeartbeatPingArgs): ScriptCall {
  return {
    keys: heartbeatKeys(keys, name),
    argv: { name, settingsJson: args.settingsJson, at: String(args.at), kind: args.kind, deadline: String(args.deadline), max: args.max, pingJson: args.pingJson, kept: args.kept }
  }
}

/** heartbeat-miss.lua: claim the miss of the ping the caller saw. */
export function heartbeatMissCall (keys: RedisKeys, name: string, lastPing: number): ScriptCall {
  const { settings, last, missed, due } = keys.heartbeats
  return { keys: { settings, last, missed, due }, argv: { name, lastPing: String(lastPing) } }
}

export type HeartbeatReadMode = 'all' | 'one' | 'remove' | 'due' | 'pings' | 'index' | 'count'

/** heartbeat-read.lua: every monitor, one, one removed as it is read, the due ones, one's pings, the counts; or the index built for monitors stored before it. */
export function heartbeatReadCall (keys: RedisKeys, mode: HeartbeatReadMode, name: string, now = 0): ScriptCall {
  return { keys: heartbeatKeys(keys, name), argv: { mode, name, now: String(now) } }
}

/** outbox-write.lua: entries about an event that is not being appended now. */
export function outboxWriteCall (keys: RedisKeys, eventJson: string, alertId: string, drafts: OutboxDraft[], createdAt: number): ScriptCall {
  return {
    keys: { outboxSeq: keys.outbox.seq, outboxReceivers: keys.outbox.receivers, outboxOrder: keys.outbox.order, outboxPending: keys.outbox.pending },
    argv: { eventJson, alertId, drafts: draftsJson(keys, drafts), createdAt: String(createdAt) }
  }
}

/** outbox-claim.lua: a receiver's due entries, or its grouped ones never tried, held for a lease. */
export function outboxClaimCall (keys: RedisKeys, mode: 'due' | 'group', receiver: string, now: number, leaseMs: number, limit: number): ScriptCall {
  return {
    keys: { dueSet: keys.outbox.due(receiver), groupSet: keys.outbox.group(receiver) },
    argv: { mode, now: String(now), leaseMs: String(leaseMs), limit, entryPrefix: keys.outbox.entry('') }
  }
}

/** How many of each the outbox keeps: attempts per alert, alerts with attempts, finished entries. */
export interface OutboxLimits { attemptsPerAlert: number, attemptedMax: number, finishedMax: number }

/** outbox-settle.lua: an attempt recorded and its entry settled, or (`settlement` undefined) an entry given back, due at `at`. */
export function outboxSettleCall (keys: RedisKeys, id: string, at: number, settlement: Settlement | undefined, limits: OutboxLimits): ScriptCall {
  const attempt = settlement?.attempt
  return {
    keys: {
      entry: keys.outbox.entry(id),
      outboxReceivers: keys.outbox.receivers,
      outboxPending: keys.outbox.pending,
      outboxFinished: keys.outbox.finished,
      outboxOrder: keys.outbox.order,
      attemptsList: keys.outbox.attempts(attempt?.alertId ?? ''),
      attempted: keys.outbox.attempted,
      attemptSeq: keys.outbox.attemptSeq
    },
    argv: {
      mode: attempt === undefined ? 'release' : 'settle',
      id,
      at: String(at),
      result: attempt?.result ?? '',
      attempt: attempt?.attempt ?? 0,
      lastStatus: attempt?.status ?? '',
      lastError: attempt?.error ?? '',
      retryAt: settlement?.retryAt === undefined ? '' : String(settlement.retryAt),
      attemptJson: attempt === undefined ? '' : JSON.stringify(attempt),
      alertId: attempt?.alertId ?? '',
      attemptsPerAlert: limits.attemptsPerAlert,
      attemptedMax: limits.attemptedMax,
      finishedMax: limits.finishedMax,
      entryPrefix: keys.outbox.entry(''),
      attemptsPrefix: keys.outbox.attempts('')
    }
  }
}

/** outbox-recent.lua: the newest entries of a receiver and a status (or any). */
export function outboxRecentCall (keys: RedisKeys, receiver: string | undefined, status: DeliveryStatus | undefined, limit: number): ScriptCall {
  return { keys: { outboxOrder: keys.outbox.order }, argv: { receiver: receiver ?? '', status: status ?? '', limit, entryPrefix: keys.outbox.entry('') } }
}
