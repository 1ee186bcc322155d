/**
 * The backend seam: what the rest of the server needs from wherever events
 * are kept and shared. Types only. The memory backend (one process) and the
 * Redis backend (a cluster) each implement all of it, import this module and
 * never each other; the backend plugin alone chooses between them.
 *
 * Every operation means the same in both modes:
 * - `store.append` puts an event at the end of the one publish order and hands
 *   it to the feed of every instance; it resolves once the event is stored.
 * - `feed` gives each instance every appended event exactly once, in publish
 *   order, whichever instance appended it.
 * - `store.appendOnce` is `append` at most once per key within its ttl, also
 *   for calls that race each other (on Redis, from any instance).
 * - `claims.claim` is won by exactly one caller per name until it expires.
 */
import type { Event, EventOf, EventType } from '../../schemas/events'

export interface Replay {
  /** false when the id asked for is not (or no longer) retained: `events` is then the whole history. */
  found: boolean
  /** Events after the id, both streams, in publish order. */
  events: Event[]
}

/** The capped history of both streams, in one publish order. */
export interface EventStore {
  /** Stores the event after every earlier one and hands it to every instance's feed. */
  append: (event: Event) => Promise<void>
  /**
   * Appends `event` unless an append with this key was made within `ttlMs`:
   * then nothing is stored or fanned out, and the event stored under the key
   * the first time comes back (`first: false`). Checking the key, appending
   * and remembering the key are one atomic step.
   */
  appendOnce: (key: string, event: Event, ttlMs: number) => Promise<{ event: Event, first: boolean }>
  /** One stream, oldest first. */
  list: <T extends EventType>(type: T) => Promise<Array<EventOf<T>>>
  /** Every retained event published after `id` (all of them when `id` is undefined). */
  since: (id?: string) => Promise<Replay>
}

/** Every event appended anywhere, once each, in publish order. */
export interface EventFeed {
  subscribe: (listener: (event: Event) => void) => void
}

/** A name that exactly one caller gets, until `ttlMs` has passed. */
export interface ClusterClaim {
  claim: (name: string, ttlMs: number) => Promise<boolean>
}

export interface Backend {
  readonly kind: 'memory' | 'redis'
  /** For people: "memory", or the Redis address without credentials. */
  readonly description: string
  readonly store: EventStore
  readonly feed: EventFeed
  readonly claims: ClusterClaim
  /** Why the backend cannot serve now (e.g. "redis unreachable"), or undefined. */
  problem: () => string | undefined
  close: () => Promise<void>
}

/** The least a core module needs to log; pino and Fastify's logger fit it. */
export interface Log {
  debug: (obj: object, msg?: string) => void
  info: (obj: object | string, msg?: string) => void
  warn: (obj: object | string, msg?: string) => void
  error: (obj: object | string, msg?: string) => void
}
