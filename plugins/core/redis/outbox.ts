import type { Redis } from 'ioredis'
import type { Event } from '../../../schemas/events'
import type { DeliveryAttempt, DeliveryStatus, NotifyKind, Outbox, OutboxDraft, OutboxEntry, Silence, SilenceStore } from '../backend'
import { alertOf } from '../lifecycle'
import { guard } from './connection'
import type { RedisKeys } from './keys'
import { outboxClaimCall, outboxRecentCall, outboxSettleCall, outboxWriteCall, scriptArgs, type OutboxLimits } from './scripts'

/**
 * What Redis keeps of finished notifications, so that its memory does not
 * grow for ever: the newest 10,000 delivered or failed entries (pending ones
 * are all kept until delivered or given up), and the attempts of the 10,000
 * alerts attempted last, at most 100 each (the newest).
 */
export const OUTBOX_LIMITS: OutboxLimits = { finishedMax: 10_000, attemptedMax: 10_000, attemptsPerAlert: 100 }

export interface RedisOutbox extends Outbox {
  /** The entries the router asks for about an event about to be appended; undefined while no router is set. */
  drafts: (event: Event) => OutboxDraft[] | undefined
  /** Whether a router is set. */
  routing: () => boolean
}

/** An entry from the fields of its hash, as a script read them ({field1, value1, ...}). */
export function entryOf (flat: string[]): OutboxEntry {
  const f = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(String(flat[i]), String(flat[i + 1]))
  const text = (name: string): string => f.get(name) ?? ''
  const entry: OutboxEntry = {
    id: text('id'),
    receiver: text('receiver'),
    kind: text('kind') as NotifyKind,
    event: JSON.parse(text('event')) as Event,
    alertId: text('alertId'),
    createdAt: Number(text('createdAt')),
    status: text('status') as DeliveryStatus,
    attempts: Number(text('attempts'))
  }
  if (text('groupMs') !== '') entry.groupMs = Number(text('groupMs'))
  if (entry.status === 'pending' && text('due') !== '') entry.due = Number(text('due'))
  if (text('lastAt') !== '') entry.lastAt = Number(text('lastAt'))
  if (text('lastStatus') !== '') entry.lastStatus = Number(text('lastStatus'))
  if (text('lastError') !== '') entry.lastError = text('lastError')
  return entry
}

/**
 * The outbox in Redis, shared by the cluster. The entries of an appended
 * event are worked out here (`drafts`) and written by append.lua in the
 * append's own step; each receiver's pending entries are indexed by when
 * they are due, and a claim (one script) moves them a lease ahead, so that
 * of several instances exactly one sends each, and a crashed one's are due
 * again when the lease ends.
 */
export function createRedisOutbox (command: Redis, keys: RedisKeys, now: () => number, limits: OutboxLimits = OUTBOX_LIMITS): RedisOutbox {
  let router: ((event: Event) => OutboxDraft[]) | undefined

  async function claim (mode: 'due' | 'group', receiver: string, at: number, leaseMs: number, limit: number): Promise<OutboxEntry[]> {
    const reply = await guard(command.outboxClaim(...scriptArgs(outboxClaimCall(keys, mode, receiver, at, leaseMs, limit))), true)
    return reply.map(entryOf)
  }

  return {
    drafts: (event) => router?.(event),
    routing: () => router !== undefined,
    route (next) { router = next },
    async enqueue (event, drafts) {
      if (drafts.length === 0) return
      await guard(command.outboxWrite(...scriptArgs(outboxWriteCall(keys, JSON.stringify(event), alertOf(event)?.id ?? '', drafts, now()))), true)
    },
    async dueReceivers (at) {
      const names = await guard(command.smembers(keys.outbox.receivers))
      const counts = await Promise.all(names.map(async (name) => await guard(command.zcount(keys.outbox.due(name), '-inf', String(at)))))
      return names.filter((_, i) => (counts[i] ?? 0) > 0)
    },
    claim: async (receiver, at, leaseMs, limit) => await claim('due', receiver, at, leaseMs, limit),
    claimGroup: async (receiver, at, leaseMs, limit) => await claim('group', receiver, at, leaseMs, limit),
    async settle (id, settlement) {
      await guard(command.outboxSettle(...scriptArgs(outboxSettleCall(keys, id, settlement.attempt.at, settlement, limits))), true)
    },
    async release (id, at) {
      await guard(command.outboxSettle(...scriptArgs(outboxSettleCall(keys, id, at, undefined, limits))), true)
    },
    async recent ({ receiver, status, limit }) {
      const reply = await guard(command.outboxRecent(...scriptArgs(outboxRecentCall(keys, receiver, status, limit))))
      return reply.map(entryOf)
    },
    async attempts (alertId) {
      const list = await guard(command.lrange(keys.outbox.attempts(alertId), 0, -1))
      return list.map((json) => JSON.parse(json) as DeliveryAttempt)
    },
    async depth () {
      const [pending, oldest] = await Promise.all([
        guard(command.zcard(keys.outbox.pending)),
        guard(command.zrange(keys.outbox.pending, '0', '0', 'WITHSCORES'))
      ])
      return oldest[1] === undefined ? { pending } : { pending, oldestAt: Number(oldest[1]) }
    }
  }
}

export interface RedisSilences extends SilenceStore {
  /** The revision of the silences last read by `list` (or by a refresh): '' before the first. */
  seen: () => string
  /** Reads them again when another instance changed them, and hands them to the followers. */
  refresh: () => Promise<void>
}

/** The results of a transaction, or its first error thrown. */
function results (replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new Error('a Redis transaction was aborted')
  for (const [err] of replies) if (err !== null) throw err
  return replies.map(([, value]) => value)
}

const byStart = (a: Silence, b: Silence): number => a.startsAt - b.startsAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Silences in Redis, shared by the cluster: a hash of them and a revision
 * that every change bumps. An instance keeps a copy (the router must decide
 * without waiting); the append script refuses an event whose notifications
 * were worked out at an older revision, so a silence made on one instance
 * holds on every other from its creation on.
 */
export function createRedisSilences (command: Redis, keys: RedisKeys): RedisSilences {
  let seen = ''
  const followers: Array<(silences: Silence[]) => void> = []

  async function read (): Promise<{ rev: string, silences: Silence[] }> {
    const [rev, values] = results(await guard(command.multi().get(keys.silencesRev).hvals(keys.silences).exec()))
    const silences = (values as string[]).map((json) => JSON.parse(json) as Silence).sort(byStart)
    return { rev: typeof rev === 'string' ? rev : '0', silences }
  }

  return {
    seen: () => seen,
    async refresh () {
      const rev = await guard(command.get(keys.silencesRev)) ?? '0'
      if (rev === seen) return
      const got = await read()
      seen = got.rev
      for (const follow of followers) follow(got.silences)
    },
    follow (listener) { followers.push(listener) },
    async add (silence) {
      results(await guard(command.multi().hset(keys.silences, silence.id, JSON.stringify(silence)).incr(keys.silencesRev).exec(), true))
    },
    async list () {
      const got = await read()
      seen = got.rev
      return got.silences
    },
    async remove (id) {
      const [json, removed] = results(await guard(command.multi().hget(keys.silences, id).hdel(keys.silences, id).incr(keys.silencesRev).exec(), true))
      // Of several instances ending it at once, one gets it back.
      return removed === 1 && typeof json === 'string' ? JSON.parse(json) as Silence : undefined
    }
  }
}
