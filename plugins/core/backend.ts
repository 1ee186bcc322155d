/**
 * The backend seam: what the rest of the server needs from wherever events
 * are kept and shared. Types only. The memory backend (one process, nothing
 * kept), the SQLite backend (one process, durable) and the Redis backend (a
 * cluster) each implement all of it, import this module and never each other;
 * the backend plugin alone chooses between them.
 *
 * Every operation means the same in every mode:
 * - `store.append` puts an event at the end of the one publish order and hands
 *   it to the feed of every instance; it resolves once the event is stored.
 * - `feed` gives each instance every appended event exactly once, in publish
 *   order, whichever instance appended it.
 * - `claims.claim` is won by exactly one caller per name until it expires.
 * - `heartbeats.claimMiss` is won by exactly one caller per missed ping.
 */
import type { Alert, Chat, Event, Severity } from '../../schemas/events'

export interface Replay {
  /** false when the id asked for is not (or no longer) retained: `events` is then the whole history. */
  found: boolean
  /** Events after the id, both streams, in publish order. */
  events: Event[]
  /** Read with a limit that cut it: more events follow the last one. */
  more?: boolean
  /** Where the next page starts, when not after the last of `events` (some were left out). */
  next?: string
}

/** An alert as it stands, with what the store orders and guards it by. */
export interface StoredAlert {
  alert: Alert
  /** The id of the event that last changed it: a change is stored only if this is still the one. */
  rev: string
  /** Its place in the order alerts were raised in. */
  seq: number
}

/**
 * What must still hold for an event to be stored; checked in the same atomic
 * step as the append, so concurrent changes never lose one another.
 */
export type Expect =
  | { kind: 'none' }
  /** No alert that is not resolved has this key. */
  | { kind: 'key-free', key: string }
  /** The alert is still at this revision. */
  | { kind: 'rev', alertId: string, rev: string }

/** An idempotency key: an append under a key used within `ttlMs` stores nothing and gets the first event back. */
export interface Once {
  key: string
  ttlMs: number
  /** Who used the key (its rate-limit key): a store that caps keys per client counts them by it. */
  owner?: string
}

/**
 * What an append did: stored the event, or not: its expectation failed, its
 * idempotency key was used (`prior`), or it would raise one more alert on a
 * board already holding `openAlertsMax` alerts that are not resolved, none of
 * which may be dropped for it (`full`: all critical or acknowledged).
 */
export type Appended = { stored: true } | { stored: false, prior?: Event, full?: true }

/** Which retained alerts to read. */
export interface AlertScope {
  /** Only alerts that are not resolved. */
  unresolved?: boolean
  /** Only alerts of this severity (with `unresolved`). */
  severity?: Severity
}

/**
 * The history: a capped log of every event in one publish order (for replay),
 * and the alerts folded from it, each as it now stands. Resolved alerts are
 * kept up to the history size; alerts that are not resolved are kept until
 * they are, up to a limit past which the oldest, least severe go first.
 */
export interface EventStore {
  /**
   * Stores the event after every earlier one, updates the alert it carries,
   * and hands it to every instance's feed, if `expect` still holds and the
   * idempotency key of `once` (if any) was not used within its ttl; then
   * remembers the event under that key. Checks, append and remembering are
   * one atomic step, so racing retries on any instance store one event.
   */
  append: (event: Event, expect?: Expect, once?: Once) => Promise<Appended>
  /** The newest `count` chat messages retained (all of them when undefined), oldest first. */
  chats: (count?: number) => Promise<Chat[]>
  /**
   * Every retained event published after `id` (all of them when `id` is
   * undefined), or the first `limit` of them (`more` says whether others
   * follow): a replay reads a long history page by page.
   */
  since: (id?: string, limit?: number) => Promise<Replay>
  /** Every retained event about one alert (its raising, then each update), in publish order. */
  timeline: (alertId: string) => Promise<Event[]>
  /** One alert by id. */
  alert: (id: string) => Promise<StoredAlert | undefined>
  /** The alert that is not resolved and has this key. */
  openByKey: (key: string) => Promise<StoredAlert | undefined>
  /** Retained alerts, in the order they were raised. */
  alerts: (scope?: AlertScope) => Promise<StoredAlert[]>
  /**
   * Up to `count` retained alerts raised before `before` (a `seq`; the newest
   * when undefined), newest first, read without the rest: the history and the
   * board's pages ask for a few of what may be many.
   */
  newest: (count: number, before?: number) => Promise<StoredAlert[]>
}

/** Every event appended anywhere, once each, in publish order. */
export interface EventFeed {
  subscribe: (listener: (event: Event) => void) => void
  /**
   * For a feed that can lag behind the store (Redis): resolves once every
   * event published before the call has been handed to the listeners, or
   * after a bounded wait when the feed cannot catch up (Redis away).
   */
  caughtUp?: () => Promise<void>
  /**
   * For a feed whose store can lose events it already handed over (Redis
   * restarted from an older snapshot, a lagging replica promoted, an emptied
   * Redis): called when it did, before the first event numbered after it.
   */
  onReset?: (listener: () => void) => void
}

/** A name that exactly one caller gets, until `ttlMs` has passed. */
export interface ClusterClaim {
  claim: (name: string, ttlMs: number) => Promise<boolean>
}

/** A heartbeat monitor's settings: what a ping sets. */
export interface HeartbeatSettings {
  /** How often a ping is expected. */
  everyMs: number
  /** How late a ping may be before it counts as missed. */
  graceMs: number
  severity: Severity
  location: string
}

/** A heartbeat monitor as stored. */
export interface HeartbeatMonitor extends HeartbeatSettings {
  name: string
  /** When the last ping arrived (ms since the epoch). */
  lastPing: number
  /** The lastPing whose miss was claimed (and raised), until the next ping; undefined while not missed. */
  missed?: number
}

/**
 * Heartbeat monitors (dead-man's switches), shared by every instance. A
 * ping and a miss are each one atomic step, so that the cluster raises
 * exactly one alert per miss, and a ping always sees whether it ends one.
 */
export interface HeartbeatStore {
  /** Creates or updates the monitor with these settings and records a ping at `at`; says whether it was missed (so the ping ends a miss). */
  ping: (name: string, settings: HeartbeatSettings, at: number) => Promise<{ monitor: HeartbeatMonitor, wasMissed: boolean }>
  /** One monitor by name. */
  get: (name: string) => Promise<HeartbeatMonitor | undefined>
  /** Every monitor, by name. */
  list: () => Promise<HeartbeatMonitor[]>
  /** Removes a monitor; resolves with it, or undefined when there was none. */
  remove: (name: string) => Promise<HeartbeatMonitor | undefined>
  /**
   * Claims the miss of the ping at `lastPing`: true for exactly one caller,
   * and only while the monitor exists, its last ping is still that one and
   * its miss was not claimed yet.
   */
  claimMiss: (name: string, lastPing: number) => Promise<boolean>
}

/**
 * Whether the shared store lost this deployment's data while this instance
 * ran (Redis: FLUSHALL, or a new empty Redis behind the same address).
 */
export interface WipeWatch {
  /** While a wipe is not confirmed: the reason, starting with its code (REDIS_WIPED). */
  problem: () => string | undefined
  /** Looks now (periodically, and on each reconnection); never rejects. */
  check: () => Promise<void>
  /** An operator saw it: the marker is written again, and the heartbeat monitors this instance last saw are restored. */
  confirm: () => Promise<{ wasWiped: boolean, monitorsRestored: number }>
}

export interface Backend {
  readonly kind: 'memory' | 'sqlite' | 'redis'
  /** For people: "memory", the SQLite file, or the Redis address without credentials. */
  readonly description: string
  readonly store: EventStore
  readonly feed: EventFeed
  readonly claims: ClusterClaim
  readonly heartbeats: HeartbeatStore
  /** Notifications waiting to leave; absent where the backend keeps none yet (Redis). */
  readonly outbox?: Outbox
  /** Silences, kept with the events; absent where the backend keeps none yet (Redis). */
  readonly silences?: SilenceStore
  /** Where the backend is shared and can be emptied under a running instance (Redis). */
  readonly wipes?: WipeWatch
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

/** What happened to an alert that a notification tells: the event's change, `raised`, or a `reminder` (a route's repeat: still open, not acknowledged). */
export type NotifyKind = 'raised' | 'repeated' | 'escalated' | 'acknowledged' | 'resolved' | 'reminder'

/** An outbox entry as a router asks for it: one receiver to tell about one event. */
export interface OutboxDraft {
  /** The delivery id: stays the same across retries, so a receiver can deduplicate. */
  id: string
  receiver: string
  kind: NotifyKind
  /** A route's `group`: held this long, then sent in one message with the receiver's other grouped ones. */
  groupMs?: number
}

/** Where a delivery stands: waiting (or being tried), delivered, or given up. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/** One notification of one event to one receiver, as kept in the outbox. */
export interface OutboxEntry extends OutboxDraft {
  /** The event it tells of, as stored (the alert as it stood then). */
  event: Event
  alertId: string
  /** When it was written (the event's append), ms since the epoch. */
  createdAt: number
  status: DeliveryStatus
  /** Attempts made so far. */
  attempts: number
  /** When it is next due (ms since the epoch), while pending. */
  due?: number
  /** The last attempt's time, HTTP or SMTP status, and what went wrong (no secrets). */
  lastAt?: number
  lastStatus?: number
  lastError?: string
}

/** One attempt to deliver, as recorded on the alert's timeline. */
export interface DeliveryAttempt {
  deliveryId: string
  alertId: string
  eventId: string
  receiver: string
  kind: NotifyKind
  attempt: number
  at: number
  /** delivered; retrying (failed, tried again later); failed (given up). */
  result: 'delivered' | 'retrying' | 'failed'
  status?: number
  error?: string
}

/** What an attempt leaves: the attempt, and the entry delivered, due again at `retryAt`, or given up. */
export interface Settlement {
  attempt: DeliveryAttempt
  retryAt?: number
}

/**
 * The outbox: notifications waiting to leave. The router is asked about each
 * appended event inside the append's atomic step, so an event is stored with
 * its notifications or not at all; a sender claims due entries (a claim holds
 * an entry for `leaseMs`, after which a crashed sender's entries are due
 * again) and settles each attempt.
 */
export interface Outbox {
  /** Sets what each appended event is to be sent to (synchronous; no I/O). */
  route: (router: (event: Event) => OutboxDraft[]) => void
  /** The receivers that have entries due at `now`. */
  dueReceivers: (now: number) => Promise<string[]>
  /** Up to `limit` entries of one receiver due at `now`, oldest first, held for `leaseMs`. */
  claim: (receiver: string, now: number, leaseMs: number, limit: number) => Promise<OutboxEntry[]>
  /** Up to `limit` grouped entries of one receiver never tried yet, due or not, oldest first, held for `leaseMs`: the rest of a group. */
  claimGroup: (receiver: string, now: number, leaseMs: number, limit: number) => Promise<OutboxEntry[]>
  /** Records an attempt and its outcome. */
  settle: (id: string, settlement: Settlement) => Promise<void>
  /** Gives a claimed entry back, due at `at`, without counting an attempt (a sender stopping). */
  release: (id: string, at: number) => Promise<void>
  /** Recent entries, newest first. */
  recent: (query: { receiver?: string, status?: DeliveryStatus, limit: number }) => Promise<OutboxEntry[]>
  /** Every recorded attempt about one alert, oldest first. */
  attempts: (alertId: string) => Promise<DeliveryAttempt[]>
  /** Entries pending, and when the oldest of them was written. */
  depth: () => Promise<{ pending: number, oldestAt?: number }>
  /** Writes entries about an event that is not being appended now (an alert still open when its silence ended). */
  enqueue: (event: Event, drafts: OutboxDraft[]) => Promise<void>
}

/** A silence: alerts its match takes are not notified between its start and its end. */
export interface Silence {
  id: string
  /** The filter words, as a query gives them (comma lists). */
  match: Partial<Record<'state' | 'severity' | 'min_severity' | 'location' | 'key' | 'tag', string>>
  /** ms since the epoch. */
  startsAt: number
  endsAt: number
  comment: string
  by: string
  createdAt: number
}

/** Silences as kept: added, listed, removed (when they end or are ended). */
export interface SilenceStore {
  add: (silence: Silence) => Promise<void>
  /** Every silence kept, by start. */
  list: () => Promise<Silence[]>
  /** Removes a silence; resolves with it, or undefined when there was none. */
  remove: (id: string) => Promise<Silence | undefined>
}
