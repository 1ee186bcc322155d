import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions, type Result } from 'ioredis'
import type { Alert, Chat, Event, Severity } from '../../schemas/events'
import type { AlertScope, Backend, EventStore, Expect, HeartbeatMonitor, HeartbeatSettings, HeartbeatStore, Log, StoredAlert } from './backend'
import { BackendUnavailableError, OutcomeUnknownError } from './errors'
import { APPEND_LUA, HEARTBEAT_MISS_LUA, HEARTBEAT_PING_LUA, HEARTBEAT_READ_LUA, RANGE_LUA, READ_ALERTS_LUA } from './redis-scripts'
import { alertOf } from './lifecycle'

/**
 * Every key and channel the cluster shares, all under REDIS_KEY_PREFIX so that
 * several deployments can share one Redis.
 */
export interface RedisKeys {
  /** Counter: the sequence number of the newest event, i.e. the publish order of the whole cluster. */
  seq: string
  /** One sorted set per stream (alerts and their updates; chat): member = the event's JSON, score = its sequence number. */
  history: { alert: string, chat: string }
  /** Hash: event id → sequence number, for every retained event (replay by id). */
  ids: string
  /** Hash: sequence number → event id, so eviction never needs to read the stored JSON. */
  seqs: string
  /** Hash: history key → sequence number of the newest event that stream has let go (a replay after an older one has a gap). */
  evicted: string
  /** Hash: alert id → the alert as it stands (JSON). */
  alerts: string
  /** Hash: alert id → id of the event that last changed it. */
  revs: string
  /** Sorted set: alert id by the sequence number of the event that raised it. */
  raised: string
  /** Hash: key → id of the alert with that key that is not resolved. */
  openKeys: string
  /** Hash: alert id → its key. */
  keys: string
  /** Sorted sets of the alerts that are not resolved, one per severity, by raising sequence number. */
  unresolved: Record<Severity, string>
  /** Sorted set: resolved alert id by the sequence number that resolved it. */
  resolved: string
  /** Pub/Sub channel: every event, as `{"seq":N,"event":{...}}`, in sequence order. */
  channel: string
  /** The JSON of the event first stored under an idempotency key, until the key expires. */
  idempotency: (key: string) => string
  /** Claimed with SET NX by the one instance that gets the name. */
  claim: (name: string) => string
  /** Heartbeat monitors: settings (name → JSON), last pings (name → ms), claimed misses (name → the missed ping). No expiry: they outlive restarts. */
  heartbeats: { settings: string, last: string, missed: string }
}

export function redisKeys (prefix: string): RedisKeys {
  return {
    seq: `${prefix}seq`,
    history: { alert: `${prefix}history:alert`, chat: `${prefix}history:chat` },
    ids: `${prefix}ids`,
    seqs: `${prefix}seqs`,
    evicted: `${prefix}evicted`,
    alerts: `${prefix}alerts`,
    revs: `${prefix}alerts:revs`,
    raised: `${prefix}alerts:raised`,
    openKeys: `${prefix}alerts:open-keys`,
    keys: `${prefix}alerts:keys`,
    unresolved: { info: `${prefix}alerts:unresolved:info`, warning: `${prefix}alerts:unresolved:warning`, critical: `${prefix}alerts:unresolved:critical` },
    resolved: `${prefix}alerts:resolved`,
    channel: `${prefix}events`,
    idempotency: (key) => `${prefix}idempotency:${key}`,
    claim: (name) => `${prefix}claim:${name}`,
    heartbeats: { settings: `${prefix}heartbeats`, last: `${prefix}heartbeats:last`, missed: `${prefix}heartbeats:missed` }
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    appendEvent: (...args: Array<string | number>) => Result<Array<string | number>, Context>
    readAlerts: (alerts: string, revs: string, raised: string, openKeys: string, set: string, mode: 'id' | 'key' | 'set' | 'newest', value: string, below: string) => Result<Array<string | null>, Context>
    heartbeatPing: (settings: string, last: string, missed: string, name: string, json: string, at: string) => Result<number, Context>
    heartbeatMiss: (settings: string, last: string, missed: string, name: string, lastPing: string) => Result<number, Context>
    heartbeatRead: (settings: string, last: string, missed: string, mode: 'all' | 'one' | 'remove', name: string) => Result<string[], Context>
    eventRange: (seqKey: string, alertKey: string, chatKey: string, idsKey: string, evictedKey: string, mode: 'all' | 'id' | 'seq', after: string) => Result<Array<string | number>, Context>
  }
}

/** An event with its place in the publish order of the whole cluster. */
export interface Sequenced { seq: number, event: Event }

export interface Range {
  /** false when the id asked for is not retained: `events` is then the whole history. */
  found: boolean
  /** The sequence number of the newest event ever published (0 before the first). */
  newest: number
  events: Sequenced[]
}

// Reconnect forever, at most every 2 s, so that an instance resumes on its own
// when Redis comes back.
const retryStrategy = (times: number): number => Math.min(times * 100, 2000)

/**
 * Commands must fail at once while Redis is away rather than queue: a publish
 * then fails fast instead of hanging, and an append that may already have run
 * is never sent twice.
 */
const connectionOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // Resubscribing is done here, so that it is known when messages flow again.
  autoResubscribe: false,
  commandTimeout: 5000,
  retryStrategy
}

// Redis refusing for a while (loading, busy, out of memory, a replica) is an
// outage like a lost connection; any other error reply is a fault of this code.
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/

/**
 * Runs a command and turns Redis' failures into domain errors. A command that
 * was never sent (no connection) is unavailable; a write that was sent and not
 * answered (timeout, connection lost in flight) may have taken effect.
 */
export async function guard<T> (command: Promise<T>, write = false): Promise<T> {
  try {
    return await command
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(err.message)) throw err
    const message = err instanceof Error ? err.message : String(err)
    if (write && /timed out|Connection is closed/i.test(message)) {
      throw new OutcomeUnknownError('Redis did not answer in time; the event may have been stored', { cause: err })
    }
    throw new BackendUnavailableError('Redis is unavailable', { cause: err })
  }
}

/** The address of a Redis URL, for people and logs: no user name, no password. */
export function describeRedisUrl (url: string): string {
  const parsed = new URL(url)
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
}

export interface RedisBackendOptions {
  url: string
  prefix: string
  historySize: number
  /** Alerts that are not resolved kept at most; past it the oldest, least severe goes. */
  openAlertsMax?: number
  /** Called with the ids of alerts dropped while not resolved (over openAlertsMax). */
  onEvict?: (ids: string[]) => void
  /** How long a command may go unanswered before it fails (a publish then has an unknown outcome). */
  commandTimeoutMs?: number
  log: Log
}

// While the event channel was not subscribed (a lost subscriber connection),
// events may have been published: they are read back from the history.
const CATCH_UP_RETRY_MS = 200
const CATCH_UP_ATTEMPTS = 25
// How long a replay waits for this instance to have heard every event published before it (see EventFeed.caughtUp).
const CAUGHT_UP_WAIT_MS = 1000

export interface RedisBackend extends Backend {
  readonly kind: 'redis'
  /** The command connection (tests look into Redis through it). */
  readonly command: Redis
  readonly keys: RedisKeys
  /** This process, in claims and connection names. */
  readonly instance: string
  /** Resolves once ready, or once the first connection attempt failed (the connections keep retrying). */
  settled: () => Promise<void>
}

/**
 * History, fan-out and claims shared by every instance through one Redis.
 *
 * Appending stores the event and publishes it on the cluster's channel in one
 * atomic step (APPEND_LUA), so the channel's order is the history's. Every
 * event reaches every instance's feed through that channel, its own included.
 * The channel carries each event's sequence number: a number that skips ahead,
 * or a new subscription after a lost connection, means events were missed;
 * they are read back from the history and delivered first, while live
 * messages wait.
 */
export function createRedisBackend ({ url, prefix, historySize, openAlertsMax = 10000, onEvict = () => {}, commandTimeoutMs = 5000, log }: RedisBackendOptions): RedisBackend {
  if (!/^rediss?:\/\//.test(url)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL')
  const keys = redisKeys(prefix)
  const instance = randomUUID()
  const command = new Redis(url, {
    ...connectionOptions,
    commandTimeout: commandTimeoutMs,
    connectionName: `alerts-command-${instance}`,
    scripts: {
      appendEvent: { numberOfKeys: 15, lua: APPEND_LUA },
      readAlerts: { numberOfKeys: 5, lua: READ_ALERTS_LUA },
      eventRange: { numberOfKeys: 5, lua: RANGE_LUA },
      heartbeatPing: { numberOfKeys: 3, lua: HEARTBEAT_PING_LUA },
      heartbeatMiss: { numberOfKeys: 3, lua: HEARTBEAT_MISS_LUA },
      heartbeatRead: { numberOfKeys: 3, lua: HEARTBEAT_READ_LUA }
    }
  })
  const subscriber = new Redis(url, { ...connectionOptions, connectionName: `alerts-subscriber-${instance}` })
  const events = new EventEmitter()
  const listeners: Array<(event: Event) => void> = []
  let subscribed = false
  let closed = false

  // One warning per outage and connection, not one per reconnection attempt.
  for (const [role, connection] of [['command', command], ['subscriber', subscriber]] as const) {
    let failing = false
    connection.on('error', (err) => {
      if (failing) return
      failing = true
      log.warn({ err, role }, 'redis connection failed; reconnecting')
    })
    connection.on('ready', () => {
      if (failing) log.info({ role }, 'redis connection restored')
      failing = false
    })
  }

  const isReady = (): boolean => subscribed && command.status === 'ready'

  async function readRange (mode: 'all' | 'id' | 'seq', after = ''): Promise<Range> {
    const reply = await guard(command.eventRange(keys.seq, keys.history.alert, keys.history.chat, keys.ids, keys.evicted, mode, after))
    const out: Sequenced[] = []
    for (let i = 2; i < reply.length; i += 2) {
      out.push({ seq: Number(reply[i]), event: JSON.parse(String(reply[i + 1])) as Event })
    }
    return { found: Number(reply[0]) === 1, newest: Number(reply[1]), events: out }
  }

  async function readAlerts (mode: 'id' | 'key' | 'set' | 'newest', value = '', set: string = keys.raised, below = '+inf'): Promise<StoredAlert[]> {
    const reply = await guard(command.readAlerts(keys.alerts, keys.revs, keys.raised, keys.openKeys, set, mode, value, below))
    const out: StoredAlert[] = []
    for (let i = 0; i + 2 < reply.length; i += 3) {
      out.push({ alert: JSON.parse(String(reply[i])) as Alert, rev: String(reply[i + 1]), seq: Number(reply[i + 2]) })
    }
    return out
  }

  const store: EventStore = {
    async append (event, expect: Expect = { kind: 'none' }, once) {
      const alert = alertOf(event)
      const stream = event.type === 'chat' ? keys.history.chat : keys.history.alert
      const reply = await guard(command.appendEvent(
        keys.seq, stream, keys.ids, keys.seqs, keys.alerts, keys.revs, keys.raised, keys.openKeys, keys.keys,
        keys.unresolved.info, keys.unresolved.warning, keys.unresolved.critical, keys.resolved, keys.idempotency(once?.key ?? ''), keys.evicted,
        event.id, JSON.stringify(event), historySize, keys.channel,
        expect.kind, expect.kind === 'key-free' ? expect.key : expect.kind === 'rev' ? expect.alertId : '', expect.kind === 'rev' ? expect.rev : '',
        alert?.id ?? '', alert === undefined ? '' : JSON.stringify(alert), alert?.state ?? '', alert?.severity ?? '', alert?.key ?? '', openAlertsMax, once === undefined ? '' : once.ttlMs
      ), true)
      const seq = Number(reply[0])
      if (seq === -1) return { stored: false, prior: JSON.parse(String(reply[1])) as Event }
      if (seq === 0) return { stored: false }
      if (reply.length > 1) onEvict(reply.slice(1).map(String))
      return { stored: true }
    },
    async chats (count) {
      const members = await guard(command.zrange(keys.history.chat, count === undefined ? 0 : -Math.max(1, count), '-1'))
      return members.map((json) => JSON.parse(json) as Chat)
    },
    async timeline (alertId) {
      const { events } = await readRange('all')
      return events.map((e) => e.event).filter((event) => alertOf(event)?.id === alertId)
    },
    async since (id) {
      const { found, events: range } = await readRange(id === undefined ? 'all' : 'id', id)
      return { found, events: range.map((e) => e.event) }
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

  const hb = keys.heartbeats
  async function readMonitors (mode: 'all' | 'one' | 'remove', name = ''): Promise<HeartbeatMonitor[]> {
    const reply = await guard(command.heartbeatRead(hb.settings, hb.last, hb.missed, mode, name), mode === 'remove')
    const out: HeartbeatMonitor[] = []
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const monitor: HeartbeatMonitor = { name: String(reply[i]), ...JSON.parse(String(reply[i + 1])) as HeartbeatSettings, lastPing: Number(reply[i + 2]) }
      if (reply[i + 3] !== '') monitor.missed = Number(reply[i + 3])
      out.push(monitor)
    }
    return out.sort((a, b) => a.name < b.name ? -1 : 1)
  }

  const heartbeats: HeartbeatStore = {
    async ping (name, { everyMs, graceMs, severity, location }, at) {
      // Known fields only, so that what is stored is what the settings say.
      const json = JSON.stringify({ everyMs, graceMs, severity, location })
      const wasMissed = await guard(command.heartbeatPing(hb.settings, hb.last, hb.missed, name, json, String(at)), true)
      return { monitor: { name, everyMs, graceMs, severity, location, lastPing: at }, wasMissed: wasMissed === 1 }
    },
    async get (name) {
      return (await readMonitors('one', name))[0]
    },
    async list () {
      return await readMonitors('all')
    },
    async remove (name) {
      return (await readMonitors('remove', name))[0]
    },
    async claimMiss (name, lastPing) {
      return await guard(command.heartbeatMiss(hb.settings, hb.last, hb.missed, name, String(lastPing)), true) === 1
    }
  }

  // The feed: every event of the channel, once, in sequence order.
  /** The sequence number of the newest event handed to the listeners. */
  let last: number | undefined
  /** The counter when this instance first subscribed: where to catch up from if nothing was delivered since. */
  let floor: number | undefined
  /** Live messages held back while missed events are read; undefined when not catching up. */
  let held: Sequenced[] | undefined
  /** Only the latest catch-up flushes `held`: a newer subscription supersedes an older one. */
  let generation = 0
  /** Callers of caughtUp, each waiting for the feed to hand over the event with this seq. */
  const waiters = new Set<{ seq: number, done: () => void }>()

  /**
   * Hands an event on unless it already went: an event read back from the
   * history may still be on its way through the channel, and its live copy
   * then arrives after it.
   */
  function deliver ({ seq, event }: Sequenced): void {
    if (last !== undefined && seq <= last) return
    last = seq
    for (const listener of listeners) listener(event)
    settleWaiters()
  }

  /** Lets go the callers of caughtUp whose event has been handed over (or lies before the first subscription). */
  function settleWaiters (): void {
    const delivered = last ?? floor
    if (delivered !== undefined) for (const waiter of waiters) if (waiter.seq <= delivered) waiter.done()
  }

  /** Resolves once the feed has handed over every event published before the call (at most CAUGHT_UP_WAIT_MS later). */
  async function caughtUp (): Promise<void> {
    let target: number
    try {
      target = Number(await guard(command.get(keys.seq)) ?? 0)
    } catch {
      return
    }
    // Before the first subscription is set up (delivered undefined) the feed
    // may be holding events back too: wait for it as well.
    const delivered = last ?? floor
    if ((delivered !== undefined && delivered >= target) || closed) return
    await new Promise<void>((resolve) => {
      const waiter = { seq: target, done: () => { waiters.delete(waiter); clearTimeout(timer); resolve() } }
      const timer = setTimeout(waiter.done, CAUGHT_UP_WAIT_MS).unref()
      waiters.add(waiter)
    })
  }

  async function catchUp (): Promise<void> {
    const from = last ?? floor
    if (from === undefined) {
      // First subscription: nothing was missed, only the starting point is needed.
      floor = Number(await guard(command.get(keys.seq)) ?? 0)
      return
    }
    const { events: missed, newest } = await readRange('seq', String(from))
    const first = missed[0]
    // From 0 (no event had ever been published) any first number is fine.
    if (from > 0 && newest > from && first?.seq !== from + 1) {
      log.warn({ from, first: first?.seq, newest }, 'events published while this instance was not subscribed are no longer in the history (or Redis lost its data); its clients may have missed some')
    }
    for (const event of missed) deliver(event)
  }

  async function resync (): Promise<void> {
    const mine = ++generation
    held ??= []
    for (let attempt = 1; ; attempt++) {
      try {
        await catchUp()
        break
      } catch (err) {
        if (attempt >= CATCH_UP_ATTEMPTS) {
          log.error({ err }, 'could not read missed events from Redis; live events resume, some may be missing')
          break
        }
        if (attempt === 1) log.warn({ err }, 'reading missed events from Redis failed; retrying')
      }
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref())
      if (mine !== generation || closed) return
    }
    if (mine !== generation) return
    const pending = held
    held = undefined
    for (const message of pending) deliver(message)
    // Once what was held has gone too (a first subscription may deliver nothing).
    settleWaiters()
  }

  subscriber.on('ready', () => {
    subscriber.subscribe(keys.channel).then(() => {
      subscribed = true
      events.emit('subscribed')
      void resync()
    }, (err: unknown) => {
      // The connection dropped again (the next 'ready' retries) or Redis refused.
      log.warn({ err }, 'redis subscribe failed')
      events.emit('subscribeFailed')
    })
  })
  subscriber.on('close', () => { subscribed = false })
  subscriber.on('message', (channel: string, message: string) => {
    if (channel !== keys.channel) return
    let parsed: Sequenced
    try {
      parsed = JSON.parse(message) as Sequenced
    } catch (err) {
      log.error({ err }, 'unreadable message on the Redis event channel')
      return
    }
    if (held !== undefined) {
      held.push(parsed)
      return
    }
    const from = last ?? floor
    if (from !== undefined && parsed.seq > from + 1) {
      held = [parsed]
      void resync()
      return
    }
    deliver(parsed)
  })

  return {
    kind: 'redis',
    description: describeRedisUrl(url),
    command,
    keys,
    instance,
    store,
    heartbeats,
    feed: { subscribe (listener) { listeners.push(listener) }, caughtUp },
    claims: {
      // The key outlives its use (the caller's ttl) so that an instance whose
      // clock or timer runs late cannot claim a name that was already used.
      async claim (name, ttlMs) {
        return await guard(command.set(keys.claim(name), instance, 'PX', ttlMs, 'NX'), true) === 'OK'
      }
    },
    problem: () => isReady() ? undefined : 'redis unreachable',

    async settled () {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          events.off('subscribed', check)
          events.off('subscribeFailed', done)
          command.off('ready', check)
          command.off('error', done)
          subscriber.off('error', done)
          resolve()
        }
        function check (): void { if (isReady()) done() }
        events.on('subscribed', check)
        events.once('subscribeFailed', done)
        command.on('ready', check)
        command.once('error', done)
        subscriber.once('error', done)
        check()
      })
    },

    async close () {
      closed = true
      await Promise.all([command, subscriber].map(async (connection) => {
        if (connection.status !== 'ready') {
          connection.disconnect()
          return
        }
        // QUIT lets commands still in flight finish; disconnect is the fallback.
        await connection.quit().catch(() => connection.disconnect())
      }))
    }
  }
}
