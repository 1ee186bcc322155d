/**
 * The SQLite file's layout, as numbered migrations. `PRAGMA user_version`
 * holds the number of the last one applied; start-up applies the rest in one
 * transaction, and refuses a file written by a newer version.
 */
import type { Database } from 'better-sqlite3'

/** Each entry takes the file from its index to its index + 1. Never edit one that has shipped: add another. */
export const MIGRATIONS: ReadonlyArray<(db: Database) => void> = [
  // 1: events in one publish order, alerts as they stand, idempotency keys, claims, heartbeat monitors.
  (db) => db.exec(`
    CREATE TABLE events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      stream TEXT NOT NULL CHECK (stream IN ('alert', 'chat')),
      alert_id TEXT,
      at INTEGER NOT NULL,
      json TEXT NOT NULL
    );
    CREATE INDEX events_stream ON events (stream, seq);
    CREATE INDEX events_alert ON events (alert_id, seq) WHERE alert_id IS NOT NULL;
    CREATE TABLE alerts (
      id TEXT PRIMARY KEY,
      seq INTEGER NOT NULL UNIQUE,
      rev TEXT NOT NULL,
      key TEXT,
      state TEXT NOT NULL,
      severity TEXT NOT NULL,
      json TEXT NOT NULL
    );
    CREATE INDEX alerts_open_key ON alerts (key, seq) WHERE key IS NOT NULL AND state <> 'resolved';
    CREATE INDEX alerts_open ON alerts (severity, seq) WHERE state <> 'resolved';
    CREATE TABLE idempotency (key TEXT PRIMARY KEY, json TEXT NOT NULL, expires INTEGER NOT NULL);
    CREATE INDEX idempotency_expires ON idempotency (expires);
    CREATE TABLE claims (name TEXT PRIMARY KEY, expires INTEGER NOT NULL);
    CREATE TABLE heartbeats (
      name TEXT PRIMARY KEY,
      every_ms INTEGER NOT NULL,
      grace_ms INTEGER NOT NULL,
      severity TEXT NOT NULL,
      location TEXT NOT NULL,
      last_ping INTEGER NOT NULL,
      missed INTEGER
    );
  `),
  // 2: retention. When a resolved alert was resolved (it is deleted RETENTION
  // later), chat by time, and the newest seq ever deleted (a replay from
  // before it may have lost events: a gap).
  (db) => db.exec(`
    ALTER TABLE alerts ADD COLUMN resolved_at INTEGER;
    UPDATE alerts SET resolved_at = CAST(strftime('%s', json ->> '$.resolvedAt') AS INTEGER) * 1000 WHERE state = 'resolved';
    CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;
    CREATE INDEX events_chat_at ON events (at) WHERE stream = 'chat';
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  `),
  // 3: the notification outbox (one row per receiver told of an event, written
  // in the event's transaction) and every delivery attempt, for the timeline.
  (db) => db.exec(`
    CREATE TABLE outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      event_id TEXT NOT NULL,
      alert_id TEXT NOT NULL,
      receiver TEXT NOT NULL,
      kind TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      due INTEGER,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_at INTEGER,
      last_status INTEGER,
      last_error TEXT,
      json TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (receiver, due) WHERE status = 'pending';
    CREATE INDEX outbox_receiver ON outbox (receiver, seq);
    CREATE TABLE notification_attempts (
      delivery_id TEXT NOT NULL,
      alert_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      receiver TEXT NOT NULL,
      kind TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      at INTEGER NOT NULL,
      result TEXT NOT NULL,
      status INTEGER,
      error TEXT
    );
    CREATE INDEX notification_attempts_alert ON notification_attempts (alert_id, at);
    CREATE INDEX notification_attempts_at ON notification_attempts (at);
  `),
  // 4: silences (the match, times, comment and who, as JSON); a route's group window on outbox entries.
  (db) => db.exec(`
    CREATE TABLE silences (id TEXT PRIMARY KEY, starts_at INTEGER NOT NULL, json TEXT NOT NULL);
    ALTER TABLE outbox ADD COLUMN group_ms INTEGER;
  `),
  // 5: the server's own settings (the action links' secret when ACTION_SECRET is not set), apart from meta's bookkeeping.
  (db) => db.exec(`
    CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  `)
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** What a file needs before this version can use it. */
export type SchemaCheck = { kind: 'current' } | { kind: 'migrate', from: number } | { kind: 'newer', version: number }

export function checkSchema (db: Database): SchemaCheck {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > SCHEMA_VERSION) return { kind: 'newer', version }
  return version === SCHEMA_VERSION ? { kind: 'current' } : { kind: 'migrate', from: version }
}

/** Applies the migrations after `from` up to `to` (all of them by default), in one transaction. */
export function migrate (db: Database, from: number, to = SCHEMA_VERSION): void {
  db.transaction(() => {
    for (let version = from; version < to; version++) (MIGRATIONS[version] as (db: Database) => void)(db)
    db.pragma(`user_version = ${to}`)
  }).immediate()
}
