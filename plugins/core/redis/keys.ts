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
  /** Heartbeat monitors: settings (name → JSON), last pings (name → ms), claimed misses (name → the missed ping). No expiry: they outlive restarts. */
  heartbeats: { settings: string, last: string, missed: string }
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
    heartbeats: { settings: `${prefix}heartbeats`, last: `${prefix}heartbeats:last`, missed: `${prefix}heartbeats:missed` },
    marker: `${prefix}marker`
  }
}
