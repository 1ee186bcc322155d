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
  // 5: no index of event ids, an alert's events found by its raising seq, and
  // the alerts dropped for room (evicted: their events go RETENTION later).
  // Ids are random UUIDs: an index of them (and of events by alert id) had
  // each commit write a page at a random place per event; `since` finds the
  // ids of the replay window in memory instead (outside it is a gap anyway).
  // The AUTOINCREMENT high-water mark is carried over, so that no seq is
  // ever given twice (the sweep's deleted_seq relies on it).
  (db) => {
    const high = (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = \'events\'').get() as { seq: number } | undefined)?.seq ?? 0
    db.exec(`
      CREATE TABLE events_new (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        stream TEXT NOT NULL CHECK (stream IN ('alert', 'chat')),
        alert_id TEXT,
        alert_seq INTEGER,
        at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      INSERT INTO events_new (seq, id, stream, alert_id, alert_seq, at, json)
        SELECT e.seq, e.id, e.stream, e.alert_id, CASE WHEN a.seq = e.seq THEN NULL ELSE a.seq END, e.at, e.json FROM events e LEFT JOIN alerts a ON a.id = e.alert_id ORDER BY e.seq;
      DROP TABLE events;
      ALTER TABLE events_new RENAME TO events;
      CREATE INDEX events_stream ON events (stream, seq);
      CREATE INDEX events_alert ON events (alert_seq, seq) WHERE alert_seq IS NOT NULL;
      CREATE INDEX events_chat_at ON events (at) WHERE stream = 'chat';
      CREATE TABLE evicted (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL);
      INSERT OR IGNORE INTO evicted (seq, at)
        SELECT coalesce(e.alert_seq, e.seq), max(e.at) FROM events e
        WHERE e.alert_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.seq = coalesce(e.alert_seq, e.seq))
        GROUP BY 1;
    `)
    db.prepare('INSERT INTO sqlite_sequence (name, seq) SELECT \'events\', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = \'events\')').run()
    db.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = \'events\'').run(high)
  },
  // 6: heartbeat monitors by deadline (the check reads the due ones from an
  // index), cron schedules, started runs, and each monitor's last pings.
  (db) => db.exec(`
    ALTER TABLE heartbeats ADD COLUMN deadline INTEGER NOT NULL DEFAULT 0;
    UPDATE heartbeats SET deadline = last_ping + every_ms + grace_ms;
    ALTER TABLE heartbeats ADD COLUMN schedule TEXT;
    ALTER TABLE heartbeats ADD COLUMN tz TEXT;
    ALTER TABLE heartbeats ADD COLUMN started_at INTEGER;
    CREATE INDEX heartbeats_due ON heartbeats (deadline) WHERE missed IS NULL;
    CREATE TABLE heartbeat_pings (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, json TEXT NOT NULL);
    CREATE INDEX heartbeat_pings_name ON heartbeat_pings (name, seq);
  `),
  // 7: the server's own settings (the action links' secret when ACTION_SECRET is not set), apart from meta's bookkeeping.
  (db) => db.exec(`
    CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  `),
  // 8: alerts keyed by their seq, and found by id through a 48-bit number taken
  // from the id (idHash) instead of a unique index of the 36-character text.
  // The table was ordered by a hidden rowid, with an index on seq besides; and
  // the text index, its keys random, took most of a commit's pages: each raise
  // and each alert dropped for room wrote a page of it at a random place. The
  // index of numbers is less than half the size, so one commit's raises share
  // more of its pages.
  (db) => {
    db.function('id_hash', { deterministic: true }, (id) => idHash(String(id)))
    db.exec(`
      CREATE TABLE alerts_new (
        seq INTEGER PRIMARY KEY,
        id_hash INTEGER NOT NULL,
        id TEXT NOT NULL,
        rev TEXT NOT NULL,
        key TEXT,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        resolved_at INTEGER,
        json TEXT NOT NULL
      );
      INSERT INTO alerts_new (seq, id_hash, id, rev, key, state, severity, resolved_at, json)
        SELECT seq, id_hash(id), id, rev, key, state, severity, resolved_at, json FROM alerts ORDER BY seq;
      DROP TABLE alerts;
      ALTER TABLE alerts_new RENAME TO alerts;
      CREATE INDEX alerts_id ON alerts (id_hash);
      CREATE INDEX alerts_open_key ON alerts (key, seq) WHERE key IS NOT NULL AND state <> 'resolved';
      CREATE INDEX alerts_open ON alerts (severity, seq) WHERE state <> 'resolved';
      CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;
    `)
  },
  // 9: every alert with a key in the key index, not only the open ones. A key
  // has at most one alert that is not resolved, and it is the newest with that
  // key (a raise with the key of an open alert repeats it), so the newest row
  // answers both "the open alert with this key" and "the last one there was"
  // (resolving by a key already resolved is no change, not 404) in one step,
  // where the second paged through every retained alert.
  (db) => db.exec(`
    DROP INDEX alerts_open_key;
    CREATE INDEX alerts_key ON alerts (key, seq) WHERE key IS NOT NULL;
  `)
]

/**
 * The number an alert is found by in the `alerts_id` index: the first 12 hex
 * digits of its id (random in a UUID v4), so 48 bits, a safe integer. Ids that
 * share it are told apart by the id itself (`WHERE id_hash = ? AND id = ?`).
 */
export function idHash (id: string): number {
  const hash = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
  return Number.isNaN(hash) ? 0 : hash
}

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
