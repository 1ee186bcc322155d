import type { Event, EventOf } from '../schemas/events'
import type { EventStore } from './store'
import { guard, type RedisBackend } from './redis'

/** An event with its place in the publish order of the whole cluster. */
export interface Sequenced { seq: number, event: Event }

export interface Range {
  /** false when the id asked for is not retained: `events` is then the whole history. */
  found: boolean
  /** The sequence number of the newest event ever published (0 before the first). */
  newest: number
  events: Sequenced[]
}

/**
 * The retained events of both streams after a point, in publish order, read
 * in one snapshot: every one (`all`), after an event id (`id`), or after a
 * sequence number (`seq`).
 */
export async function readRange (redis: RedisBackend, mode: 'all' | 'id' | 'seq', after = ''): Promise<Range> {
  const { command, keys } = redis
  const reply = await guard(command.eventRange(keys.seq, keys.history.alert, keys.history.chat, keys.ids, mode, after))
  const events: Sequenced[] = []
  for (let i = 2; i < reply.length; i += 2) {
    events.push({ seq: Number(reply[i]), event: JSON.parse(String(reply[i + 1])) as Event })
  }
  return { found: Number(reply[0]) === 1, newest: Number(reply[1]), events }
}

/**
 * The history in Redis, shared by every instance: capped per stream at
 * `historySize`, in one publish order. Appending also publishes the event on
 * the cluster's channel, in the same atomic step (see APPEND_LUA in redis.ts),
 * so the channel's order is the history's order.
 */
export function createRedisStore (redis: RedisBackend, historySize: number): EventStore {
  const { command, keys } = redis
  return {
    async append (event) {
      await guard(command.appendEvent(keys.seq, keys.history[event.type], keys.ids, event.id, JSON.stringify(event), historySize, keys.channel))
    },
    async list (type) {
      const members = await guard(command.zrange(keys.history[type], 0, '-1'))
      return members.map((json) => JSON.parse(json) as EventOf<typeof type>)
    },
    async since (id) {
      const { found, events } = await readRange(redis, id === undefined ? 'all' : 'id', id)
      return { found, events: events.map((e) => e.event) }
    }
  }
}
