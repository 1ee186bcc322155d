import type { Database as Db } from 'better-sqlite3'
import type { Event } from '../../schemas/events'
import type { DeliveryAttempt, DeliveryStatus, NotifyKind, Outbox, OutboxDraft, OutboxEntry, Silence, SilenceStore } from './backend'
import { alertOf } from './lifecycle'

export interface SqliteOutbox extends Outbox {
  /** Writes the entries the router asks for; called inside the savepoint of the append of `event`. */
  written: (event: Event, at: number) => void
  /** One batch of the retention sweep: finished entries and attempts older than `cutoff`; resolves with how many rows went. */
  sweep: (cutoff: number, batch: number) => number
}

interface EntryRow {
  id: string
  alert_id: string
  receiver: string
  kind: NotifyKind
  created_at: number
  status: DeliveryStatus
  due: number | null
  attempts: number
  last_at: number | null
  last_status: number | null
  last_error: string | null
  group_ms: number | null
  json: string
}

interface AttemptRow {
  delivery_id: string
  alert_id: string
  event_id: string
  receiver: string
  kind: NotifyKind
  attempt: number
  at: number
  result: DeliveryAttempt['result']
  status: number | null
  error: string | null
}

function entryOf (row: EntryRow): OutboxEntry {
  const entry: OutboxEntry = {
    id: row.id,
    receiver: row.receiver,
    kind: row.kind,
    event: JSON.parse(row.json) as Event,
    alertId: row.alert_id,
    createdAt: row.created_at,
    status: row.status,
    attempts: row.attempts
  }
  if (row.due !== null) entry.due = row.due
  if (row.last_at !== null) entry.lastAt = row.last_at
  if (row.last_status !== null) entry.lastStatus = row.last_status
  if (row.last_error !== null) entry.lastError = row.last_error
  if (row.group_ms !== null) entry.groupMs = row.group_ms
  return entry
}

function attemptOf (row: AttemptRow): DeliveryAttempt {
  const attempt: DeliveryAttempt = {
    deliveryId: row.delivery_id,
    alertId: row.alert_id,
    eventId: row.event_id,
    receiver: row.receiver,
    kind: row.kind,
    attempt: row.attempt,
    at: row.at,
    result: row.result
  }
  if (row.status !== null) attempt.status = row.status
  if (row.error !== null) attempt.error = row.error
  return attempt
}

/**
 * The outbox in the SQLite file. Entries are written by `written` inside the
 * append's savepoint (so with the event, or not at all); every other change
 * goes through `write`, the backend's group commit.
 */
export function createSqliteOutbox (db: Db, write: <T>(step: () => T) => Promise<T>, now: () => number): SqliteOutbox {
  const sql = {
    insert: db.prepare('INSERT INTO outbox (id, event_id, alert_id, receiver, kind, created_at, status, due, group_ms, json) VALUES (?, ?, ?, ?, ?, ?, \'pending\', ?, ?, ?)'),
    group: db.prepare<[string, number], EntryRow>('SELECT * FROM outbox WHERE status = \'pending\' AND receiver = ? AND attempts = 0 AND group_ms IS NOT NULL ORDER BY seq LIMIT ?'),
    dueReceivers: db.prepare<[number], { receiver: string }>('SELECT DISTINCT receiver FROM outbox WHERE status = \'pending\' AND due <= ?'),
    due: db.prepare<[string, number, number], EntryRow>('SELECT * FROM outbox WHERE status = \'pending\' AND receiver = ? AND due <= ? ORDER BY due, seq LIMIT ?'),
    hold: db.prepare('UPDATE outbox SET due = ? WHERE id = ?'),
    release: db.prepare('UPDATE outbox SET due = ? WHERE id = ? AND status = \'pending\''),
    settle: db.prepare('UPDATE outbox SET status = ?, due = ?, attempts = ?, last_at = ?, last_status = ?, last_error = ? WHERE id = ?'),
    record: db.prepare('INSERT INTO notification_attempts (delivery_id, alert_id, event_id, receiver, kind, attempt, at, result, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    recent: db.prepare<[string | null, string | null, string | null, string | null, number], EntryRow>(
      'SELECT * FROM outbox WHERE (? IS NULL OR receiver = ?) AND (? IS NULL OR status = ?) ORDER BY seq DESC LIMIT ?'),
    attempts: db.prepare<[string], AttemptRow>('SELECT * FROM notification_attempts WHERE alert_id = ? ORDER BY at, rowid'),
    depth: db.prepare<[], { n: number, oldest: number | null }>('SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = \'pending\''),
    oldFinished: db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE status <> \'pending\' AND created_at < ? LIMIT ?)'),
    oldAttempts: db.prepare('DELETE FROM notification_attempts WHERE rowid IN (SELECT rowid FROM notification_attempts WHERE at < ? AND result <> \'retrying\' LIMIT ?)')
  }
  let router: (event: Event) => OutboxDraft[] = () => []

  function insert (event: Event, drafts: OutboxDraft[], at: number): void {
    const alertId = alertOf(event)?.id ?? ''
    const json = JSON.stringify(event)
    for (const draft of drafts) sql.insert.run(draft.id, event.id, alertId, draft.receiver, draft.kind, at, at + (draft.groupMs ?? 0), draft.groupMs ?? null, json)
  }

  return {
    written (event, at) {
      const drafts = router(event)
      if (drafts.length > 0) insert(event, drafts, at)
    },
    async enqueue (event, drafts) {
      await write(() => { insert(event, drafts, now()) })
    },
    sweep (cutoff, batch) {
      return sql.oldFinished.run(cutoff, batch).changes + sql.oldAttempts.run(cutoff, batch).changes
    },
    route (next) { router = next },
    async dueReceivers (now) {
      return sql.dueReceivers.all(now).map((row) => row.receiver)
    },
    async claim (receiver, now, leaseMs, limit) {
      return await write(() => {
        const rows = sql.due.all(receiver, now, limit)
        for (const row of rows) sql.hold.run(now + leaseMs, row.id)
        return rows.map(entryOf)
      })
    },
    async claimGroup (receiver, now, leaseMs, limit) {
      return await write(() => {
        const rows = sql.group.all(receiver, limit)
        for (const row of rows) sql.hold.run(now + leaseMs, row.id)
        return rows.map(entryOf)
      })
    },
    async settle (id, { attempt, retryAt }) {
      const status: DeliveryStatus = attempt.result === 'delivered' ? 'delivered' : attempt.result === 'failed' ? 'failed' : 'pending'
      await write(() => {
        sql.record.run(attempt.deliveryId, attempt.alertId, attempt.eventId, attempt.receiver, attempt.kind, attempt.attempt, attempt.at, attempt.result, attempt.status ?? null, attempt.error ?? null)
        sql.settle.run(status, status === 'pending' ? retryAt ?? attempt.at : null, attempt.attempt, attempt.at, attempt.status ?? null, attempt.error ?? null, id)
      })
    },
    async release (id, at) {
      await write(() => sql.release.run(at, id))
    },
    async recent ({ receiver, status, limit }) {
      return sql.recent.all(receiver ?? null, receiver ?? null, status ?? null, status ?? null, limit).map(entryOf)
    },
    async attempts (alertId) {
      return sql.attempts.all(alertId).map(attemptOf)
    },
    async depth () {
      const row = sql.depth.get()
      return row?.oldest === null || row?.oldest === undefined ? { pending: row?.n ?? 0 } : { pending: row.n, oldestAt: row.oldest }
    }
  }
}

/** Silences in the SQLite file. */
export function createSqliteSilences (db: Db, write: <T>(step: () => T) => Promise<T>): SilenceStore {
  const sql = {
    add: db.prepare('INSERT OR REPLACE INTO silences (id, starts_at, json) VALUES (?, ?, ?)'),
    list: db.prepare<[], { json: string }>('SELECT json FROM silences ORDER BY starts_at, id'),
    get: db.prepare<[string], { json: string }>('SELECT json FROM silences WHERE id = ?'),
    remove: db.prepare('DELETE FROM silences WHERE id = ?')
  }
  return {
    async add (silence) {
      await write(() => sql.add.run(silence.id, silence.startsAt, JSON.stringify(silence)))
    },
    async list () {
      return sql.list.all().map((row) => JSON.parse(row.json) as Silence)
    },
    async remove (id) {
      return await write(() => {
        const row = sql.get.get(id)
        if (row !== undefined) sql.remove.run(id)
        return row === undefined ? undefined : JSON.parse(row.json) as Silence
      })
    }
  }
}
