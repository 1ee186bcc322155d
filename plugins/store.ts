import fp from 'fastify-plugin'
import type { Event, EventType, EventOf } from '../schemas/events'
import { createRedisStore } from './redis-store'

export interface Replay {
  /** false when the id asked for is not (or no longer) retained: `events` is then the whole history. */
  found: boolean
  /** Events after the id, both streams, in publish order. */
  events: Event[]
}

/** The history of both streams. Async so that a networked store fits the same shape. */
export interface EventStore {
  append: (event: Event) => Promise<void>
  /** One stream, oldest first. */
  list: <T extends EventType>(type: T) => Promise<Array<EventOf<T>>>
  /** Every retained event published after `id` (all of them when `id` is undefined). */
  since: (id?: string) => Promise<Replay>
}

declare module 'fastify' {
  interface FastifyInstance {
    store: EventStore
  }
}

/** Fixed-capacity FIFO: O(1) push, the oldest item is dropped when full. */
export class Ring<T> {
  private readonly items: Array<T | undefined>
  private start = 0
  private length = 0

  constructor (readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity)
  }

  get size (): number { return this.length }

  /** Adds an item; returns the one it pushed out, if any. */
  push (item: T): T | undefined {
    if (this.length < this.capacity) {
      this.items[(this.start + this.length++) % this.capacity] = item
      return undefined
    }
    const evicted = this.items[this.start]
    this.items[this.start] = item
    this.start = (this.start + 1) % this.capacity
    return evicted
  }

  toArray (): T[] {
    const out: T[] = []
    for (let i = 0; i < this.length; i++) out.push(this.items[(this.start + i) % this.capacity] as T)
    return out
  }
}

interface Entry { seq: number, event: Event }

export function createMemoryStore (historySize: number): EventStore {
  const streams: Record<EventType, Ring<Entry>> = { alert: new Ring(historySize), chat: new Ring(historySize) }
  // Publish order across both streams, so replay can interleave them.
  const seqById = new Map<string, number>()
  let nextSeq = 0

  function merged (): Entry[] {
    const a = streams.alert.toArray()
    const c = streams.chat.toArray()
    const out: Entry[] = []
    let i = 0
    let j = 0
    while (i < a.length || j < c.length) {
      const x = a[i]
      const y = c[j]
      if (y === undefined || (x !== undefined && x.seq < y.seq)) { out.push(x as Entry); i++ } else { out.push(y); j++ }
    }
    return out
  }

  return {
    async append (event) {
      const seq = nextSeq++
      const evicted = streams[event.type].push({ seq, event })
      if (evicted !== undefined) seqById.delete(evicted.event.id)
      seqById.set(event.id, seq)
    },
    async list (type) {
      return streams[type].toArray().map((e) => e.event) as Array<EventOf<typeof type>>
    },
    async since (id) {
      const all = merged()
      const after = id === undefined ? -1 : seqById.get(id)
      if (after === undefined) return { found: false, events: all.map((e) => e.event) }
      return { found: true, events: all.filter((e) => e.seq > after).map((e) => e.event) }
    }
  }
}

export default fp(async function store (fastify) {
  const { HISTORY_SIZE } = fastify.config
  // In memory for one process; in Redis, shared by every instance, when REDIS_URL is set.
  fastify.decorate('store', fastify.redis === null ? createMemoryStore(HISTORY_SIZE) : createRedisStore(fastify.redis, HISTORY_SIZE))
}, { name: 'store', dependencies: ['config', 'redis'] })
