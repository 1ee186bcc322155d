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
 * which may be dropped for it (`full`: all critical or acknowledged, or more
 * severe than it: a new alert is never the one dropped at once).
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
  /**
   * For a store that keeps many resolved alerts (SQLite, within RETENTION):
   * the newest retained alert with this key, resolved or not, found by an
   * index. Without it the newest is looked for page by page in `newest`.
   */
  lastByKey?: (key: string) => Promise<StoredAlert | undefined>
  /** Retained alerts, in the order they were raised. */
  alerts: (scope?: AlertScope) => Promise<StoredAlert[]>
  /**
   * Up to `count` retained alerts raised before `before` (a `seq`; the newest
   * when undefined), newest first, read without the rest: the history and the
   * board's pages ask for a few of what may be many.
   */
  newest: (count: number, before?: number, scope?: NewestScope) => Promise<StoredAlert[]>
}

/**
 * What a reader of `newest` will keep: with `unresolved`, it drops resolved
 * alerts, so a store may leave them out (SQLite does, reading only the open
 * alerts where it keeps RETENTION's worth of resolved ones; memory and Redis
 * keep REPLAY_WINDOW of them and return all). A hint: the reader filters anyway.
 */
export interface NewestScope {
  unresolved?: boolean
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
  /**
   * For a feed that hands a turn's events over together once they are stored
   * (SQLite's group commit, at the end of the turn): called when such a turn's
   * first write begins, so a listener can schedule its own end-of-turn work to
   * run after that hand-over rather than a turn later.
   */
  onTurn?: (listener: () => void) => void
}

/** A name that exactly one caller gets, until `ttlMs` has passed. */
export interface ClusterClaim {
  claim: (name: string, ttlMs: number) => Promise<boolean>
}

/** A heartbeat monitor's settings: what a ping sets. */
export interface HeartbeatSettings {
  /** How often a ping is expected; with a schedule, the gap between its occurrences when it was set (for people). */
  everyMs: number
  /** How late a ping may be before it counts as missed; also how long a started run may take. */
  graceMs: number
  severity: Severity
  location: string
  /** A cron expression: a ping is expected at each of its occurrences instead of every `everyMs`. */
  schedule?: string
  /** The IANA time zone of `schedule`. */
  tz?: string
}

/** What a ping says: the job succeeded, started a run, or failed. */
export type HeartbeatPingKind = 'success' | 'start' | 'fail'

/** One ping as a monitor keeps it (the newest 100 of each: HEARTBEAT_PINGS_KEPT, core/heartbeat-pings.ts). */
export interface HeartbeatPing {
  at: number
  kind: HeartbeatPingKind
  /** The exit status it reported (/heartbeats/{name}/{0..255}). */
  exitStatus?: number
  /** How long the run took: set by the store when a success or a failure ends a started run. */
  durationMs?: number
  /** The client address it came from. */
  source?: string
  userAgent?: string
}

/** A heartbeat monitor as stored. */
export interface HeartbeatMonitor extends HeartbeatSettings {
  name: string
  /** When the last ping (of any kind) arrived (ms since the epoch). */
  lastPing: number
  /** The lastPing whose miss was claimed (and raised), or the failure's, until the next success; undefined while not missed. */
  missed?: number
  /** When a miss is due if no ping comes first (ms since the epoch): the next expected ping plus the grace, or a started run's start plus the grace. */
  deadline: number
  /** When the run in progress started (a start ping not yet followed by a success or a failure). */
  startedAt?: number
}

/** A ping as the store records it: the monitor's deadline after it, and the cap on monitors when it creates one. */
export interface HeartbeatPingWrite {
  ping: HeartbeatPing
  deadline: number
  /** The most monitors there may be: a ping for a new name past it is refused (HeartbeatsFullError). */
  max: number
}

/**
 * Heartbeat monitors (dead-man's switches), shared by every instance. A
 * ping and a miss are each one atomic step, so that the cluster raises
 * exactly one alert per miss, and a ping always sees whether it ends one.
 */
export interface HeartbeatStore {
  /**
   * Creates or updates the monitor with these settings and records a ping;
   * says whether it was missed. A success ends a miss; a failure is one
   * (claimed by this caller unless it was missed already); a start keeps it.
   * A new name past `max` monitors throws HeartbeatsFullError, atomically.
   */
  ping: (name: string, settings: HeartbeatSettings, write: HeartbeatPingWrite) => Promise<{ monitor: HeartbeatMonitor, wasMissed: boolean, ping: HeartbeatPing }>
  /** One monitor by name. */
  get: (name: string) => Promise<HeartbeatMonitor | undefined>
  /** A monitor's kept pings, newest first. */
  pings: (name: string) => Promise<HeartbeatPing[]>
  /** Every monitor, by name. */
  list: () => Promise<HeartbeatMonitor[]>
  /** The monitors not missed whose deadline is at or before `now`, by deadline: read from an index, never the whole list. */
  due: (now: number) => Promise<HeartbeatMonitor[]>
  /** How many monitors there are, and how many of them are missed at `now` (claimed, failed, or past their deadline): counted, not listed. */
  count: (now: number) => Promise<{ total: number, missed: number }>
  /** Removes a monitor and its pings; resolves with it, or undefined when there was none. */
  remove: (name: string) => Promise<HeartbeatMonitor | undefined>
  /**
   * Claims the miss of the ping at `lastPing`: true for exactly one caller,
   * and only while the monitor exists, its last ping is still that one and
   * its miss was not claimed yet.
   */
  claimMiss: (name: string, lastPing: number) => Promise<boolean>
}

/** Values the server keeps for itself (a generated secret), shared by every instance and kept as long as the backend keeps anything. */
export interface SettingStore {
  /**
   * The value kept under `name`. When there is none, `make()`'s is kept,
   * unless another caller (another instance) kept one first: every caller
   * gets the one value kept.
   */
  keep: (name: string, make: () => string) => Promise<string>
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
  /** Notifications waiting to leave. */
  readonly outbox: Outbox
  /** Silences, kept with the events. */
  readonly silences: SilenceStore
  /** The server's own values (the action links' secret). */
  readonly settings: SettingStore
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
 * appended event, and its entries are written in the append's atomic step, so
 * an event is stored with its notifications or not at all (memory and SQLite
 * ask inside the step; Redis just before it, and again when the silences
 * changed meanwhile, so the router must have no effects). A sender claims due
 * entries (a claim holds an entry for `leaseMs`, after which a crashed
 * sender's entries are due again; of several instances, one gets each) and
 * settles each attempt.
 */
export interface Outbox {
  /** Sets what each appended event is to be sent to (synchronous; no I/O). */
  route: (router: (event: Event) => OutboxDraft[]) => void
  /** The receivers that have entries due at `now`. */
  dueReceivers: (now: number) => Promise<string[]>
  /** Up to `limit` entries of one receiver due at `now`, oldest first, held for `leaseMs`. */
  claim: (receiver: string, now: number, leaseMs: number, limit: number) => Promise<OutboxEntry[]>
  /**
   * Up to `limit` grouped entries of one receiver never tried yet, due or
   * not, oldest first, held for `leaseMs`: the rest of a group. Redis leaves
   * out those a live claim holds (another instance may be sending them);
   * memory and SQLite, with one sender, may hand back its own.
   */
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
  /** The filter words: comma lists, as a query gives them, or lists of whole values (a key with a comma). */
  match: Partial<Record<'state' | 'severity' | 'location' | 'key' | 'tag', string | string[]>> & { min_severity?: string }
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
  /** Removes a silence; resolves with it, or undefined when there was none (or another instance removed it first). */
  remove: (id: string) => Promise<Silence | undefined>
  /**
   * For silences shared by several instances (Redis): `listener` is handed
   * every silence whenever this instance finds that another changed them, so
   * that a copy of them kept for deciding at once stays current.
   */
  follow?: (listener: (silences: Silence[]) => void) => void
}
