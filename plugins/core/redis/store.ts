import type { Redis } from 'ioredis'
import type { Alert, Chat, Event } from '../../../schemas/events'
import type { AlertScope, EventStore, Expect, StoredAlert } from '../backend'
import { alertOf } from '../lifecycle'
import { guard } from './connection'
import type { RedisKeys } from './keys'
import type { RedisOutbox, RedisSilences } from './outbox'
import { appendCall, rangeCall, readAlertsCall, scriptArgs, type RangeMode, type ReadAlertsMode } from './scripts'

/** An event with its place in the publish order of the whole cluster. */
export interface Sequenced { seq: number, event: Event }

export interface Range {
  /** false when the id asked for is not retained: `events` is then the whole history. */
  found: boolean
  /** The sequence number of the newest event ever published (0 before the first). */
  newest: number
  events: Sequenced[]
  /** Read with a limit that cut it: more events follow. */
  more?: boolean
}

/** The retained events of both streams after an id or a sequence number (or all), in publish order, read in one step; the first `limit` (0: all). */
export async function readRange (command: Redis, keys: RedisKeys, mode: RangeMode, after = '', limit = 0): Promise<Range> {
  const reply = await guard(command.eventRange(...scriptArgs(rangeCall(keys, mode, after, limit))))
  const out: Sequenced[] = []
  for (let i = 3; i < reply.length; i += 2) {
    out.push({ seq: Number(reply[i]), event: JSON.parse(String(reply[i + 1])) as Event })
  }
  const range: Range = { found: Number(reply[0]) === 1, newest: Number(reply[1]), events: out }
  if (Number(reply[2]) === 1) range.more = true
  return range
}

export interface RedisStoreOptions {
  historySize: number
  openAlertsMax: number
  onEvict: (ids: string[]) => void
  /** Where an appended event's notifications come from: the outbox's router, the silences it decides by, and the clock of their time. */
  notify: { outbox: RedisOutbox, silences: RedisSilences, now: () => number }
}

// An append refused because the silences changed is worked out again; after
// this many in a row (silences changing all the time) it is stored with
// what was worked out last: an event is never lost for a notification.
const SILENCE_RETRIES = 5

/**
 * History and alerts shared through Redis. Appending stores the event, folds
 * its alert and publishes it on the cluster's channel in one atomic step
 * (append.lua), so the channel's order is the history's.
 */
export function createRedisStore (command: Redis, keys: RedisKeys, { historySize, openAlertsMax, onEvict, notify }: RedisStoreOptions): EventStore {
  async function readAlerts (mode: ReadAlertsMode, value = '', listed: string = keys.raised, below = '+inf'): Promise<StoredAlert[]> {
    const reply = await guard(command.readAlerts(...scriptArgs(readAlertsCall(keys, mode, value, listed, below))))
    const out: StoredAlert[] = []
    for (let i = 0; i + 2 < reply.length; i += 3) {
      out.push({ alert: JSON.parse(String(reply[i])) as Alert, rev: String(reply[i + 1]), seq: Number(reply[i + 2]) })
    }
    return out
  }

  return {
    async append (event, expect: Expect = { kind: 'none' }, once) {
      const alert = alertOf(event)
      const json = JSON.stringify(event)
      for (let tries = 1; ; tries++) {
        // Worked out from this instance's copy of the silences; the script checks that copy is current.
        // Never read yet (Redis was away when this instance started): read them, so that the drafts are worked out by them.
        if (notify.outbox.routing() && notify.silences.seen() === '') await notify.silences.refresh()
        const drafts = notify.outbox.drafts(event)
        const reply = await guard(command.appendEvent(...scriptArgs(appendCall(keys, {
          id: event.id,
          json,
          stream: event.type === 'chat' ? 'chat' : 'alert',
          expect,
          alert: alert === undefined ? undefined : { id: alert.id, json: JSON.stringify(alert), state: alert.state, severity: alert.severity, key: alert.key ?? '' },
          once,
          historySize,
          openAlertsMax,
          notify: drafts === undefined ? undefined : { drafts, silencesSeen: tries > SILENCE_RETRIES ? '' : notify.silences.seen(), createdAt: notify.now() }
        }))), true)
        const seq = Number(reply[0])
        if (seq === -3) {
          await notify.silences.refresh()
          continue
        }
        if (seq === -1) return { stored: false, prior: JSON.parse(String(reply[1])) as Event }
        if (seq === 0) return { stored: false }
        if (seq === -2) return { stored: false, full: true }
        if (reply.length > 1) onEvict(reply.slice(1).map(String))
        return { stored: true }
      }
    },
    async chats (count) {
      const members = await guard(command.zrange(keys.history.chat, count === undefined ? 0 : -Math.max(1, count), '-1'))
      return members.map((json) => JSON.parse(json) as Chat)
    },
    async timeline (alertId) {
      const { events } = await readRange(command, keys, 'all')
      return events.map((e) => e.event).filter((event) => alertOf(event)?.id === alertId)
    },
    async since (id, limit) {
      const { found, events: range, more } = await readRange(command, keys, id === undefined ? 'all' : 'id', id, limit)
      const events = range.map((e) => e.event)
      return more === true ? { found, events, more } : { found, events }
    },
    async alert (id) {
      return (await readAlerts('id', id))[0]
    },
    async openByKey (key) {
      return (await readAlerts('key', key))[0]
    },
    async alerts (scope: AlertScope = {}) {
      const set = scope.unresolved === true && scope.severity !== undefined ? keys.unresolved[scope.severity] : keys.raised
      const all = await readAlerts('set', '', set)
      const out = all.filter(({ alert }) =>
        (scope.unresolved !== true || alert.state !== 'resolved') && (scope.severity === undefined || alert.severity === scope.severity))
      // The per-severity sets are scored by raising seq too, so the order is the same.
      return out
    },
    async newest (count, before) {
      if (count <= 0) return []
      return await readAlerts('newest', String(count), keys.raised, before === undefined ? '+inf' : String(before))
    }
  }
}
