import type { Alert, Chat, Event, Severity } from '../../schemas/events'
import type { AlertScope, Backend, ClusterClaim, EventFeed, EventStore, Expect, HeartbeatMonitor, HeartbeatPing, HeartbeatStore, Replay, SettingStore, StoredAlert } from './backend'
import { Ring } from './ring'
import { createAgeQueue, type AgeQueue } from './age-queue'
import { alertOf, noRoomFor } from './lifecycle'
import { createMemoryOutbox, createMemorySilences } from './memory-outbox'
import { createDeadlineHeap } from './deadline-heap'
import { HeartbeatsFullError } from './errors'
import { applyPing, HEARTBEAT_PINGS_KEPT } from './heartbeat-pings'

interface Entry { seq: number, event: Event }

type Listener = (event: Event) => void

export interface StoreOptions {
  /** Events kept per stream for replay, and resolved alerts kept. */
  historySize: number
  /** Alerts that are not resolved kept at most; past it the oldest, least severe goes. */
  openAlertsMax?: number
  /** Called with the ids of alerts dropped while not resolved (over openAlertsMax). */
  onEvict?: (ids: string[]) => void
  /** The clock idempotency keys and claims expire by. */
  now?: () => number
  /** Idempotency keys kept at most, and per owner: past either, the oldest (of all, of that owner) is forgotten first. */
  onceKeysMax?: number
  onceKeysPerOwnerMax?: number
  /** Kept current by the store: keys held, and keys forgotten early for a cap (for metrics). */
  onceStats?: { held: number, dropped: number }
}

/** The severities whose open alerts may be dropped for room, least severe first: a critical alert never is. */
const EVICTABLE = ['info', 'warning'] as const

interface OnceKeys {
  /** Remembers a key, first forgetting the oldest of its owner's and of all past the caps (each holds a whole event). */
  remember: (key: string, owner: string, event: Event, expires: number) => void
  /** The event first stored under a key still remembered. */
  priorOf: (key: string) => Event | undefined
}

/** Idempotency keys with their caps, overall and per owner, and their expiry. */
function createOnceKeys ({ now, onceKeysMax, onceKeysPerOwnerMax, onceStats }: Required<Pick<StoreOptions, 'now' | 'onceKeysMax' | 'onceKeysPerOwnerMax' | 'onceStats'>>): OnceKeys {
  /** Idempotency keys in the order they were first used, which is their order of expiry while the ttl does not change. */
  const onceKeys = new Map<string, { event: Event, expires: number, owner: string }>()
  /** Each owner's keys, oldest first: a client over its cap loses its own oldest, nobody else's. */
  const onceByOwner = new Map<string, Set<string>>()

  function forgetKey (key: string): void {
    const entry = onceKeys.get(key)
    if (entry === undefined) return
    onceKeys.delete(key)
    const owned = onceByOwner.get(entry.owner)
    owned?.delete(key)
    if (owned?.size === 0) onceByOwner.delete(entry.owner)
    onceStats.held = onceKeys.size
  }

  return {
    remember (key, owner, event, expires) {
      forgetKey(key)
      let owned = onceByOwner.get(owner)
      while (owned !== undefined && owned.size >= onceKeysPerOwnerMax) {
        forgetKey(owned.values().next().value as string)
        onceStats.dropped++
        owned = onceByOwner.get(owner)
      }
      while (onceKeys.size >= onceKeysMax) {
        forgetKey(onceKeys.keys().next().value as string)
        onceStats.dropped++
      }
      onceKeys.set(key, { event, expires, owner })
      owned = onceByOwner.get(owner) ?? new Set()
      onceByOwner.set(owner, owned.add(key))
      onceStats.held = onceKeys.size
    },
    priorOf (key) {
      const t = now()
      for (const [old, { expires }] of onceKeys) {
        if (expires > t) break
        forgetKey(old)
      }
      const prior = onceKeys.get(key)
      return prior !== undefined && prior.expires > t ? prior.event : undefined
    }
  }
}

interface Rings {
  /** Stores an event in its stream, and returns its place in the publish order. */
  push: (event: Event) => number
  chats: (count: number) => Chat[]
  /** Both streams, in publish order. */
  merged: () => Entry[]
  since: (id: string | undefined, limit?: number) => Replay
}

/** The replay rings: each stream capped at `historySize`, one publish order across both. */
function createRings (historySize: number): Rings {
  const streams = { alert: new Ring<Entry>(historySize), chat: new Ring<Entry>(historySize) }
  const seqById = new Map<string, number>()
  /** The seq of the newest event either stream has let go of: a replay from before it has a gap. */
  let evictedSeq = -1
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
    push (event) {
      const seq = nextSeq++
      const evicted = streams[event.type === 'chat' ? 'chat' : 'alert'].push({ seq, event })
      if (evicted !== undefined) {
        seqById.delete(evicted.event.id)
        evictedSeq = evicted.seq
      }
      seqById.set(event.id, seq)
      return seq
    },
    chats (count) {
      return streams.chat.toArray().slice(-count).map((e) => e.event as Chat)
    },
    merged,
    since (id, limit = Infinity) {
      const after = id === undefined ? -1 : seqById.get(id)
      // Not retained, or retained while the other stream (capped apart) let go of a later event.
      const found = after !== undefined && (id === undefined || evictedSeq <= after)
      const from = found ? after : -1
      // Each ring is in seq order: found by halving, then merged for one page
      // (one more than asked tells whether more follow), not the whole history per page.
      const { alert, chat } = streams
      let i = alert.firstNot((e) => e.seq <= from)
      let j = chat.firstNot((e) => e.seq <= from)
      const events: Event[] = []
      while (events.length <= limit) {
        const x = alert.at(i)
        const y = chat.at(j)
        if (x === undefined && y === undefined) break
        if (y === undefined || (x !== undefined && x.seq < y.seq)) { events.push((x as Entry).event); i++ } else { events.push(y.event); j++ }
      }
      return events.length > limit ? { found, events: events.slice(0, limit), more: true } : { found, events }
    }
  }
}

interface AlertIndex {
  /** Every retained alert, in the order raised (Map keeps insertion order). */
  readonly alerts: Map<string, StoredAlert>
  /** Key → id of the alert with that key that is not resolved. */
  readonly openKeys: Map<string, string>
  /** Whether storing this alert would need room that no open alert as or less severe than it can give (the board is full for it). */
  full: (alert: Alert) => boolean
  /** Takes an alert's new state in, then lets go of the oldest resolved past the history size and the oldest least severe open past openAlertsMax. */
  fold: (alert: Alert, rev: string, seq: number) => void
  /** Up to `count` alerts raised before `before`, newest first. */
  newest: (count: number, before: number) => StoredAlert[]
}

/** The alerts, with their keys, the resolved ones capped, and the open ones evicted least severe and oldest first. */
function createAlertIndex ({ historySize, openAlertsMax, onEvict }: Required<Pick<StoreOptions, 'historySize' | 'openAlertsMax' | 'onEvict'>>): AlertIndex {
  const alerts = new Map<string, StoredAlert>()
  // The alerts in raising order (seq ascending), built when a read asks for
  // it and dropped when one is added or forgotten (a change to an alert is
  // made on its stored object, which this shares): a board read pages through
  // it batch after batch without copying the map each time.
  let ordered: StoredAlert[] | undefined
  const openKeys = new Map<string, string>()
  /** Ids of resolved alerts, and the order they were resolved in (oldest evicted first). */
  const resolved = new Set<string>()
  const resolvedOrder = createAgeQueue()
  const isResolved = (id: string): boolean => resolved.has(id)
  let resolutions = 0
  /** Ids of alerts that are not resolved, per severity, in the order raised: eviction takes the oldest of the least severe. */
  const open: Record<Severity, AgeQueue> = { info: createAgeQueue(), warning: createAgeQueue(), critical: createAgeQueue() }
  /** Whether an id in a severity's queue still stands for an open alert of that severity (the queues forget lazily). */
  // Only alerts nobody acknowledged can be dropped for room (an acknowledged alert never becomes open again, so the queues may forget it).
  const openAs = (severity: Severity) => (id: string): boolean => {
    const stored = alerts.get(id)
    return stored !== undefined && stored.alert.severity === severity && stored.alert.state === 'open'
  }
  const wanted = { info: openAs('info'), warning: openAs('warning'), critical: openAs('critical') }
  let unresolved = 0

  function forget (stored: StoredAlert): void {
    const { alert } = stored
    alerts.delete(alert.id)
    ordered = undefined
    if (resolved.delete(alert.id)) return
    unresolved--
    if (alert.key !== undefined && openKeys.get(alert.key) === alert.id) openKeys.delete(alert.key)
  }

  /** The oldest open (not acknowledged) alert of the least severe kind, never a critical one: O(1), whatever the number of open alerts. */
  function oldestLeastSevere (): StoredAlert | undefined {
    for (const severity of EVICTABLE) {
      const id = open[severity].oldest(wanted[severity])
      if (id !== undefined) return alerts.get(id)
    }
    return undefined
  }

  /** Past the caps: the oldest resolved go first (the history size caps them), then the oldest least severe open ones. */
  function trim (): void {
    while (resolved.size > historySize) {
      const old = alerts.get(resolvedOrder.oldest(isResolved) ?? '')
      if (old === undefined) break
      forget(old)
    }
    if (unresolved > openAlertsMax) {
      const evicted: string[] = []
      while (unresolved > openAlertsMax) {
        const victim = oldestLeastSevere()
        if (victim === undefined) break
        forget(victim)
        evicted.push(victim.alert.id)
      }
      onEvict(evicted)
    }
  }

  return {
    alerts,
    openKeys,
    full (alert) {
      if (alert.state === 'resolved' || alerts.has(alert.id) || unresolved < openAlertsMax) return false
      return noRoomFor(alert, oldestLeastSevere()?.alert.severity)
    },
    fold (alert, rev, seq) {
      const before = alerts.get(alert.id)
      if (before === undefined) {
        alerts.set(alert.id, { alert, rev, seq })
        ordered = undefined
        unresolved++
      } else {
        // Escalation changes the severity: the alert moves to its new set, keeping its age.
        if (before.alert.severity !== alert.severity && alert.state !== 'resolved') open[alert.severity].push(alert.id, before.seq)
        before.alert = alert
        before.rev = rev
      }
      const wasResolved = resolved.has(alert.id)
      if (before === undefined && alert.state !== 'resolved') {
        open[alert.severity].push(alert.id, seq)
        open[alert.severity].prune(wanted[alert.severity], unresolved)
      }
      if (alert.state === 'resolved' && !wasResolved) {
        resolved.add(alert.id)
        resolvedOrder.push(alert.id, resolutions++)
        resolvedOrder.prune(isResolved, resolved.size)
        unresolved--
        if (alert.key !== undefined && openKeys.get(alert.key) === alert.id) openKeys.delete(alert.key)
      } else if (alert.state !== 'resolved' && alert.key !== undefined) {
        openKeys.set(alert.key, alert.id)
      }
      trim()
    },
    newest (count, before) {
      // The map keeps the order alerts were first set in: the raising order.
      ordered ??= [...alerts.values()]
      const all = ordered
      // The first one raised at or after `before`, by bisection.
      let low = 0
      let high = all.length
      while (low < high) {
        const mid = (low + high) >>> 1
        if ((all[mid] as StoredAlert).seq < before) low = mid + 1
        else high = mid
      }
      const out: StoredAlert[] = []
      for (let i = low - 1; i >= 0 && out.length < count; i--) out.push({ ...(all[i] as StoredAlert) })
      return out
    }
  }
}

/** The history of one process: each stream capped at `historySize`, one publish order across both. */
export function createMemoryStore ({ historySize, openAlertsMax = 10000, onEvict = () => {}, now = Date.now, onceKeysMax = Infinity, onceKeysPerOwnerMax = Infinity, onceStats = { held: 0, dropped: 0 } }: StoreOptions, feed: Listener = () => {}): EventStore {
  const rings = createRings(historySize)
  const index = createAlertIndex({ historySize, openAlertsMax, onEvict })
  const { alerts, openKeys } = index
  const onceKeys = createOnceKeys({ now, onceKeysMax, onceKeysPerOwnerMax, onceStats })

  function holds (expect: Expect): boolean {
    if (expect.kind === 'key-free') return !openKeys.has(expect.key)
    if (expect.kind === 'rev') return alerts.get(expect.alertId)?.rev === expect.rev
    return true
  }

  const inScope = (stored: StoredAlert, scope: AlertScope): boolean =>
    (scope.unresolved !== true || stored.alert.state !== 'resolved') &&
    (scope.severity === undefined || stored.alert.severity === scope.severity)

  return {
    // One synchronous step: no other call can come between the checks and the append.
    async append (event, expect = { kind: 'none' }, once) {
      if (once !== undefined) {
        const prior = onceKeys.priorOf(once.key)
        if (prior !== undefined) return { stored: false, prior }
      }
      if (!holds(expect)) return { stored: false }
      const alert = alertOf(event)
      if (alert !== undefined && index.full(alert)) return { stored: false, full: true }
      const seq = rings.push(event)
      if (alert !== undefined) index.fold(alert, event.id, seq)
      if (once !== undefined) onceKeys.remember(once.key, once.owner ?? '', event, now() + once.ttlMs)
      // Synchronously, in the same step as the append: the feed's order is the history's.
      feed(event)
      return { stored: true }
    },
    async chats (count = historySize) {
      return rings.chats(count)
    },
    async timeline (alertId) {
      return rings.merged().map((e) => e.event).filter((event) => alertOf(event)?.id === alertId)
    },
    async since (id, limit) {
      return rings.since(id, limit)
    },
    async alert (id) {
      const stored = alerts.get(id)
      return stored === undefined ? undefined : { ...stored }
    },
    async openByKey (key) {
      const id = openKeys.get(key)
      const stored = id === undefined ? undefined : alerts.get(id)
      return stored === undefined ? undefined : { ...stored }
    },
    async alerts (scope = {}) {
      const out: StoredAlert[] = []
      for (const stored of alerts.values()) if (inScope(stored, scope)) out.push({ ...stored })
      return out
    },
    async newest (count, before = Infinity) {
      return index.newest(count, before)
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

/** Heartbeat monitors of one process: each step is synchronous, so none can come between a check and its change. */
export function createMemoryHeartbeats (): HeartbeatStore {
  const monitors = new Map<string, { monitor: HeartbeatMonitor, pings: HeartbeatPing[] }>()
  // The monitors that may be missed (not missed yet), by deadline.
  const index = createDeadlineHeap()
  const copy = (monitor: HeartbeatMonitor): HeartbeatMonitor => ({ ...monitor })
  return {
    async ping (name, settings, write) {
      const entry = monitors.get(name)
      if (entry === undefined && monitors.size >= write.max) throw new HeartbeatsFullError(`there are ${monitors.size} heartbeat monitors, the most allowed (HEARTBEATS_MAX); remove one first`)
      const applied = applyPing(entry?.monitor, name, settings, write)
      const pings = entry?.pings ?? []
      pings.push(applied.ping)
      if (pings.length > HEARTBEAT_PINGS_KEPT) pings.shift()
      monitors.set(name, { monitor: applied.monitor, pings })
      if (applied.monitor.missed === undefined) index.set(name, applied.monitor.deadline)
      else index.delete(name)
      return { ...applied, monitor: copy(applied.monitor) }
    },
    async get (name) {
      const entry = monitors.get(name)
      return entry === undefined ? undefined : copy(entry.monitor)
    },
    async pings (name) {
      return (monitors.get(name)?.pings ?? []).map((ping) => ({ ...ping })).reverse()
    },
    async list () {
      return [...monitors.values()].map(({ monitor }) => copy(monitor)).sort((a, b) => a.name < b.name ? -1 : 1)
    },
    async due (now) {
      return index.due(now).map((name) => copy((monitors.get(name) as { monitor: HeartbeatMonitor }).monitor))
    },
    async count (now) {
      // Those not in the index are missed; of those in it, the due ones.
      return { total: monitors.size, missed: monitors.size - index.size + index.due(now).length }
    },
    async remove (name) {
      const entry = monitors.get(name)
      monitors.delete(name)
      index.delete(name)
      return entry?.monitor
    },
    async claimMiss (name, lastPing) {
      const monitor = monitors.get(name)?.monitor
      if (monitor === undefined || monitor.lastPing !== lastPing || monitor.missed !== undefined) return false
      monitor.missed = lastPing
      index.delete(name)
      return true
    }
  }
}

/** Settings of this process: a generated one lasts as long as the process. */
export function createMemorySettings (): SettingStore {
  const values = new Map<string, string>()
  return {
    async keep (name, make) {
      let value = values.get(name)
      if (value === undefined) {
        value = make()
        values.set(name, value)
      }
      return value
    }
  }
}

/** Everything in this process: nothing to connect to, always ready. */
export function createMemoryBackend (options: StoreOptions): Backend {
  const listeners: Listener[] = []
  const feed: EventFeed = { subscribe (listener) { listeners.push(listener) } }
  const outbox = createMemoryOutbox(options.now)
  const store = createMemoryStore(options, (event) => {
    // In the append's synchronous step: an event is stored with its notifications.
    outbox.written(event)
    for (const listener of listeners) listener(event)
  })
  return {
    kind: 'memory',
    description: 'memory',
    store,
    feed,
    claims: createMemoryClaims(options.now),
    heartbeats: createMemoryHeartbeats(),
    outbox,
    silences: createMemorySilences(),
    settings: createMemorySettings(),
    problem: () => undefined,
    close: async () => {}
  }
}
