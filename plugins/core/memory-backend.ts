import type { Event, EventOf, EventType } from '../../schemas/events'
import type { Backend, ClusterClaim, EventFeed, EventStore } from './backend'
import { Ring } from './ring'

interface Entry { seq: number, event: Event }

type Listener = (event: Event) => void

/** The history of one process: each stream capped at `historySize`, one publish order across both. */
export function createMemoryStore (historySize: number, feed: Listener = () => {}, now: () => number = Date.now): EventStore {
  const streams: Record<EventType, Ring<Entry>> = { alert: new Ring(historySize), chat: new Ring(historySize) }
  const seqById = new Map<string, number>()
  /** Idempotency keys in the order they were first used, which is their order of expiry while the ttl does not change. */
  const keys = new Map<string, { event: Event, expires: number }>()
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

  function append (event: Event): void {
    const seq = nextSeq++
    const evicted = streams[event.type].push({ seq, event })
    if (evicted !== undefined) seqById.delete(evicted.event.id)
    seqById.set(event.id, seq)
    // Synchronously, in the same step as the append: the feed's order is the history's.
    feed(event)
  }

  return {
    async append (event) {
      append(event)
    },
    // One synchronous step: no other call can come between the check and the append.
    async appendOnce (key, event, ttlMs) {
      const t = now()
      for (const [old, { expires }] of keys) {
        if (expires > t) break
        keys.delete(old)
      }
      const prior = keys.get(key)
      if (prior !== undefined && prior.expires > t) return { event: prior.event, first: false }
      append(event)
      keys.delete(key)
      keys.set(key, { event, expires: t + ttlMs })
      return { event, first: true }
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

/** Claims of one process: the first caller of a name gets it until it expires. */
export function createMemoryClaims (now: () => number = Date.now): ClusterClaim {
  const expiries = new Map<string, number>()
  return {
    async claim (name, ttlMs) {
      const t = now()
      for (const [key, expiry] of expiries) if (expiry <= t) expiries.delete(key)
      if (expiries.has(name)) return false
      expiries.set(name, t + ttlMs)
      return true
    }
  }
}

/** Everything in this process: nothing to connect to, always ready. */
export function createMemoryBackend ({ historySize }: { historySize: number }): Backend {
  const listeners: Listener[] = []
  const feed: EventFeed = { subscribe (listener) { listeners.push(listener) } }
  const store = createMemoryStore(historySize, (event) => {
    for (const listener of listeners) listener(event)
  })
  return {
    kind: 'memory',
    description: 'memory',
    store,
    feed,
    claims: createMemoryClaims(),
    problem: () => undefined,
    close: async () => {}
  }
}
