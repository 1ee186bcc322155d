import type { Severity } from '../../../schemas/events'

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
  /** Set: ids of the alerts acknowledged and not resolved, which are never dropped for room. */
  acknowledged: string
  /** Pub/Sub channel: every event, as `{"seq":N,"event":{...}}`, in sequence order. */
  channel: string
  /** The JSON of the event first stored under an idempotency key, until the key expires. */
  idempotency: (key: string) => string
  /** Claimed with SET NX by the one instance that gets the name. */
  claim: (name: string) => string
  /**
   * Heartbeat monitors: settings (name → JSON), last pings (name → ms), claimed misses (name → the missed ping),
   * deadlines (name → ms), started runs (name → ms), the sorted set of the monitors not missed by deadline
   * (what the check reads), and each monitor's last pings (a list, newest first). No expiry: they outlive restarts.
   */
  heartbeats: { settings: string, last: string, missed: string, deadline: string, started: string, due: string, pings: (name: string) => string }
  /**
   * The notification outbox. `entry(id)` is a hash per entry (its fields and
   * its event's JSON). Each receiver's pending entries are in `due(receiver)`
   * by when they are next due, and its grouped entries never tried in
   * `group(receiver)` by write order; members are `<16-digit seq>:<id>`, so
   * that entries due at the same millisecond go in the order written.
   */
  outbox: {
    /** Counter: the write order of entries. */
    seq: string
    entry: (id: string) => string
    due: (receiver: string) => string
    group: (receiver: string) => string
    /** Set: the receivers that have pending entries. */
    receivers: string
    /** Sorted set: every entry kept (id) by write order, for the newest first. */
    order: string
    /** Sorted set: pending entry ids by when they were written (depth and age). */
    pending: string
    /** Sorted set: delivered and failed entry ids by write order; past its cap the oldest go. */
    finished: string
    /** A list per alert: its delivery attempts (JSON), oldest first, capped. */
    attempts: (alertId: string) => string
    /** Sorted set: alert ids by the order of their newest attempt; past its cap the oldest alerts' attempts go. */
    attempted: string
    /** Counter: the order of attempts. */
    attemptSeq: string
  }
  /** Hash: silence id → the silence (JSON). */
  silences: string
  /** Counter: bumped by every change of the silences, so that an instance can tell its copy is stale. */
  silencesRev: string
  /** Written once per deployment (redis/wipe.ts): gone while an instance runs, the Redis was wiped. */
  marker: string
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
    acknowledged: `${prefix}alerts:acknowledged`,
    channel: `${prefix}events`,
    idempotency: (key) => `${prefix}idempotency:${key}`,
    claim: (name) => `${prefix}claim:${name}`,
    heartbeats: {
      settings: `${prefix}heartbeats`,
      last: `${prefix}heartbeats:last`,
      missed: `${prefix}heartbeats:missed`,
      deadline: `${prefix}heartbeats:deadline`,
      started: `${prefix}heartbeats:started`,
      due: `${prefix}heartbeats:due`,
      pings: (name) => `${prefix}heartbeats:pings:${name}`
    },
    outbox: {
      seq: `${prefix}outbox:seq`,
      entry: (id) => `${prefix}outbox:entry:${id}`,
      due: (receiver) => `${prefix}outbox:due:${receiver}`,
      group: (receiver) => `${prefix}outbox:group:${receiver}`,
      receivers: `${prefix}outbox:receivers`,
      order: `${prefix}outbox:order`,
      pending: `${prefix}outbox:pending`,
      finished: `${prefix}outbox:finished`,
      attempts: (alertId) => `${prefix}outbox:attempts:${alertId}`,
      attempted: `${prefix}outbox:attempted`,
      attemptSeq: `${prefix}outbox:attempt-seq`
    },
    silences: `${prefix}silences`,
    silencesRev: `${prefix}silences:rev`,
    marker: `${prefix}marker`
  }
}
