import Database, { type Database as Db } from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { SEVERITIES, type Alert, type Chat, type Event, type Severity } from '../../schemas/events'
import type { AlertScope, Appended, Backend, ClusterClaim, EventFeed, EventStore, Expect, HeartbeatMonitor, HeartbeatPing, HeartbeatStore, Log, Once, SettingStore, StoredAlert } from './backend'
import { HeartbeatsFullError, StorageUnavailableError } from './errors'
import { applyPing, HEARTBEAT_PINGS_KEPT } from './heartbeat-pings'
import { alertOf, noRoomFor } from './lifecycle'
import { checkSchema, idHash, migrate, SCHEMA_VERSION } from './sqlite-schema'
import { createSqliteOutbox, createSqliteSilences } from './sqlite-outbox'

/** The file the events are kept in, inside DATA_DIR. */
export const DATABASE_FILE = 'alerts.db'

export interface SqliteBackendOptions {
  /** The directory of the database file; created if missing. */
  dir: string
  /** Events of each stream a replay reaches back, newest first (REPLAY_WINDOW). */
  replayWindow: number
  /** Alerts that are not resolved kept at most; past it the oldest, least severe goes. */
  openAlertsMax?: number
  /** Called with the ids of alerts dropped while not resolved (over openAlertsMax). */
  onEvict?: (ids: string[]) => void
  /** `normal` (the default: a commit survives a crash of the process; a power loss may lose the last ones) or `full` (fsync on every commit). */
  synchronous?: 'normal' | 'full'
  /** The clock idempotency keys, claims and retention go by. */
  now?: () => number
  /** Most database pages: a test's way to fill the disk (SQLITE_FULL) without filling a disk. */
  maxPages?: number
  log: Log
}

export interface SqliteBackend extends Backend {
  readonly kind: 'sqlite'
  /** The database file. */
  readonly file: string
  /** Deletes what is older than `cutoff` (ms since the epoch) and not open, in small batches between which the event loop runs; resolves with how many events went. */
  sweep: (cutoff: number) => Promise<number>
  /** Tries a small write when the last one failed, so that readiness comes back once the disk has room again. */
  probe: () => Promise<void>
  /** The connection, for tests that look into the file and for the backup command. */
  readonly db: Db
}

// Errors that say the file or the disk cannot take writes now (full, read-only,
// an I/O error, a lock): the request can be retried later; anything else is a fault.
const STORAGE_CODES = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED|CORRUPT|NOTADB|NOMEM|PROTOCOL)/

function storageError (err: unknown): Error {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && STORAGE_CODES.test(code)) {
    return new StorageUnavailableError(`the database cannot be written (${code}): ${(err as Error).message}`, { cause: err })
  }
  return err as Error
}

/** One line a person can act on, for a file that cannot be opened. */
function openFailure (file: string, err: unknown): Error {
  const code = (err as { code?: unknown }).code
  const detail = (err as Error).message
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new Error(`${file} is not an SQLite database or is damaged (${detail}): move it away to start empty, or restore a backup (npm run restore -- <backup>)`)
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
    return new Error(`cannot open ${file} for writing (${detail}): make DATA_DIR a directory this user can write to`)
  }
  return new Error(`cannot open ${file}: ${detail}`)
}

/**
 * Holds DATA_DIR for this process: a second server on the same directory
 * would be a second writer. The lock is SQLite's own (a file in exclusive
 * locking mode), which the operating system releases when the process ends,
 * however it ends; the events' file itself stays readable by a backup.
 */
export function lockDirectory (dir: string): Db {
  const file = join(dir, `${DATABASE_FILE}.lock`)
  let lock: Db | undefined
  try {
    lock = new Database(file, { timeout: 0 })
    lock.pragma('locking_mode = EXCLUSIVE')
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); COMMIT')
    return lock
  } catch (err) {
    lock?.close()
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new Error(`${join(dir, DATABASE_FILE)} is in use by another server process: stop it, or give this one another DATA_DIR`)
    }
    throw openFailure(file, err)
  }
}

/** Opens (creating, migrating) the database file in `dir`; throws one line a person can act on. */
export function openDatabase (given: string, synchronous: 'normal' | 'full' = 'normal'): { db: Db, lock: Db, file: string } {
  // Absolute, so that the start-up line and every message name the file wherever the server was started from.
  const dir = resolve(given)
  const file = join(dir, DATABASE_FILE)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw openFailure(dir, err)
  }
  const lock = lockDirectory(dir)
  let db: Db | undefined
  try {
    db = new Database(file, { timeout: 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`)
    // A checkpoint (copying the WAL into the file, two fsyncs) every ~40 MiB of WAL rather than SQLite's 4 MiB:
    // pages written again and again (index pages, the newest leaves) are copied once per checkpoint, and the
    // event loop waits on fsync a tenth as often (+8% appends/s measured).
    db.pragma('wal_autocheckpoint = 10000')
    // Events are never bigger than a few KiB; most of the file is read by index.
    db.pragma('foreign_keys = OFF')
    // The statement journal (each write's savepoint keeps the pages it changes, as they were, until the turn
    // commits) in memory: on a file it spills past 64 KiB, and a turn of 24 appends wrote it out as ~1 MiB of
    // pwrite calls in a temporary file that is unlinked at the commit (17 of the 22 pwrite calls per append;
    // 30% of a store-only append's time). Also keeps sorts in memory: every sorted query here is bounded
    // (LIMIT, the replay window, one alert's events).
    db.pragma('temp_store = MEMORY')
    const schema = checkSchema(db)
    if (schema.kind === 'newer') {
      throw Object.assign(new Error(`${file} was written by a newer version of this server (schema ${schema.version}; this version knows up to ${SCHEMA_VERSION}): run that version, or restore a backup made by this one`), { code: 'NEWER' })
    }
    if (schema.kind === 'migrate') migrate(db, schema.from)
    return { db, lock, file }
  } catch (err) {
    db?.close()
    lock.close()
    if ((err as { code?: unknown }).code === 'NEWER') throw err
    throw openFailure(file, err)
  }
}

interface Pending {
  result: unknown
  events: Event[]
  /** Each event's seq, in step with `events`. */
  seqs: number[]
  evicted: string[]
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

interface AlertRow { json: string, rev: string, seq: number }
type Stream = 'alert' | 'chat'
const streamOf = (event: Event): Stream => event.type === 'chat' ? 'chat' : 'alert'
interface MonitorRow { name: string, every_ms: number, grace_ms: number, severity: Severity, location: string, last_ping: number, missed: number | null, deadline: number, schedule: string | null, tz: string | null, started_at: number | null }

/** The severities whose open alerts may be dropped for room, least severe first: a critical alert never is. */
const EVICTABLE = ['info', 'warning'] as const

/** An open alert that can make room: the oldest of the least severe kind there is. */
interface Victim { id: string, seq: number, severity: typeof EVICTABLE[number] }
// Rows deleted per statement by the retention sweep: each batch is a short transaction.
const SWEEP_BATCH = 500

const storedOf = (row: AlertRow): StoredAlert => ({ alert: JSON.parse(row.json) as Alert, rev: row.rev, seq: row.seq })
const monitorOf = (row: MonitorRow): HeartbeatMonitor => {
  const monitor: HeartbeatMonitor = { name: row.name, everyMs: row.every_ms, graceMs: row.grace_ms, severity: row.severity, location: row.location, lastPing: row.last_ping, deadline: row.deadline }
  if (row.schedule !== null) monitor.schedule = row.schedule
  if (row.tz !== null) monitor.tz = row.tz
  if (row.started_at !== null) monitor.startedAt = row.started_at
  if (row.missed !== null) monitor.missed = row.missed
  return monitor
}

/**
 * The statements whose speed rests on an index (the tests read their query
 * plans): found by number, the newest alert with a key (migration 9), one
 * severity's unresolved alerts newest first, the monitors due.
 */
export const QUERIES = {
  alertById: 'SELECT json, rev, seq, state FROM alerts WHERE id_hash = ? AND id = ?',
  lastByKey: 'SELECT json, rev, seq, state FROM alerts WHERE key = ? ORDER BY seq DESC LIMIT 1',
  newestOpenOf: 'SELECT json, rev, seq FROM alerts INDEXED BY alerts_open WHERE state <> \'resolved\' AND severity = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
  dueMonitors: 'SELECT * FROM heartbeats WHERE missed IS NULL AND deadline <= ? ORDER BY deadline, name',
}

/** Every statement of the backend, prepared once. */
// Its return type is the statements' own types, inferred.
function prepare (db: Db) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT w'),
    release: db.prepare('RELEASE w'),
    rollbackTo: db.prepare('ROLLBACK TO w'),
    // alert_seq: the seq of the alert an update is about (its raising event's); a raising event has none, being at that seq.
    insertEvent: db.prepare('INSERT INTO events (id, stream, alert_id, alert_seq, at, json) VALUES (?, ?, ?, ?, ?, ?)'),
    windowIds: db.prepare<[number, number, number], { id: string, seq: number, stream: Stream }>(
      'SELECT id, seq, stream FROM events WHERE seq > ? AND ((stream = \'alert\' AND seq > ?) OR (stream = \'chat\' AND seq > ?)) ORDER BY seq'),
    cut: db.prepare<[string, number], { seq: number }>('SELECT seq FROM events WHERE stream = ? ORDER BY seq DESC LIMIT 1 OFFSET ?'),
    after: db.prepare<[number, number, number, number], { json: string }>(
      'SELECT json FROM events WHERE seq > ? AND ((stream = \'alert\' AND seq > ?) OR (stream = \'chat\' AND seq > ?)) ORDER BY seq LIMIT ?'),
    chats: db.prepare<[number], { json: string }>('SELECT json FROM (SELECT seq, json FROM events WHERE stream = \'chat\' ORDER BY seq DESC LIMIT ?) ORDER BY seq'),
    timeline: db.prepare<[number, number], { json: string }>('SELECT json FROM events WHERE seq = ? OR alert_seq = ? ORDER BY seq'),
    alertById: db.prepare<[number, string], AlertRow & { state: string }>(QUERIES.alertById),
    // The newest alert with the key: the open one, if any (schema.ts, migration 9).
    lastByKey: db.prepare<[string], AlertRow & { state: string }>(QUERIES.lastByKey),
    allAlerts: db.prepare<[], AlertRow>('SELECT json, rev, seq FROM alerts ORDER BY seq'),
    openAlerts: db.prepare<[], AlertRow>('SELECT json, rev, seq FROM alerts WHERE state <> \'resolved\' ORDER BY seq'),
    openOf: db.prepare<[string], AlertRow>('SELECT json, rev, seq FROM alerts WHERE state <> \'resolved\' AND severity = ? ORDER BY seq'),
    oldestOpen: db.prepare<[string], { id: string, seq: number }>('SELECT id, seq FROM alerts WHERE state <> \'resolved\' AND severity = ? AND state = \'open\' ORDER BY seq LIMIT 1'),
    countOpen: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM alerts WHERE state <> \'resolved\''),
    newest: db.prepare<[number, number], AlertRow>('SELECT json, rev, seq FROM alerts WHERE seq < ? ORDER BY seq DESC LIMIT ?'),
    // One severity's unresolved alerts newest first, in the order of their index: the board of
    // unresolved alerts merges the three, and reads no resolved alert.
    newestOpenOf: db.prepare<[string, number, number], AlertRow>(QUERIES.newestOpenOf),
    insertAlert: db.prepare('INSERT INTO alerts (id_hash, id, seq, rev, key, state, severity, resolved_at, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    updateAlert: db.prepare('UPDATE alerts SET rev = ?, key = ?, state = ?, severity = ?, resolved_at = ?, json = ? WHERE seq = ?'),
    deleteAlert: db.prepare('DELETE FROM alerts WHERE seq = ?'),
    prior: db.prepare<[string, number], { json: string }>('SELECT json FROM idempotency WHERE key = ? AND expires > ?'),
    remember: db.prepare('INSERT OR REPLACE INTO idempotency (key, json, expires) VALUES (?, ?, ?)'),
    forgetKeys: db.prepare('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires <= ? LIMIT ?)'),
    dropClaim: db.prepare('DELETE FROM claims WHERE name = ? AND expires <= ?'),
    claim: db.prepare('INSERT OR IGNORE INTO claims (name, expires) VALUES (?, ?)'),
    forgetClaims: db.prepare('DELETE FROM claims WHERE expires <= ?'),
    monitor: db.prepare<[string], MonitorRow>('SELECT * FROM heartbeats WHERE name = ?'),
    monitors: db.prepare<[], MonitorRow>('SELECT * FROM heartbeats ORDER BY name'),
    dueMonitors: db.prepare<[number], MonitorRow>(QUERIES.dueMonitors),
    countMonitors: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM heartbeats'),
    countMissed: db.prepare<[number], { n: number }>('SELECT count(missed) + (SELECT count(*) FROM heartbeats WHERE missed IS NULL AND deadline <= ?) AS n FROM heartbeats'),
    ping: db.prepare(`INSERT INTO heartbeats (name, every_ms, grace_ms, severity, location, last_ping, missed, deadline, schedule, tz, started_at)
    VALUES (@name, @everyMs, @graceMs, @severity, @location, @lastPing, @missed, @deadline, @schedule, @tz, @startedAt)
    ON CONFLICT (name) DO UPDATE SET every_ms = excluded.every_ms, grace_ms = excluded.grace_ms, severity = excluded.severity,
    location = excluded.location, last_ping = excluded.last_ping, missed = excluded.missed, deadline = excluded.deadline,
    schedule = excluded.schedule, tz = excluded.tz, started_at = excluded.started_at`),
    removeMonitor: db.prepare('DELETE FROM heartbeats WHERE name = ?'),
    addPing: db.prepare('INSERT INTO heartbeat_pings (name, json) VALUES (?, ?)'),
    trimPings: db.prepare(`DELETE FROM heartbeat_pings WHERE name = @name AND seq <= (SELECT seq FROM heartbeat_pings WHERE name = @name ORDER BY seq DESC LIMIT 1 OFFSET ${HEARTBEAT_PINGS_KEPT})`),
    pingsOf: db.prepare<[string], { json: string }>('SELECT json FROM heartbeat_pings WHERE name = ? ORDER BY seq DESC'),
    removePings: db.prepare('DELETE FROM heartbeat_pings WHERE name = ?'),
    claimMiss: db.prepare('UPDATE heartbeats SET missed = ? WHERE name = ? AND last_ping = ? AND missed IS NULL'),
    meta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE name = ?'),
    setMeta: db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)'),
    setting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
    keepSetting: db.prepare('INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)'),
    oldResolved: db.prepare<[number, number], { seq: number }>('SELECT seq FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at < ? LIMIT ?'),
    eventsOf: db.prepare<[number], { seq: number | null }>('SELECT max(seq) AS seq FROM events WHERE alert_seq = ?'),
    deleteEventsOf: db.prepare('DELETE FROM events WHERE alert_seq = ?'),
    oldChat: db.prepare<[number, number], { seq: number }>('SELECT seq FROM events WHERE stream = \'chat\' AND at < ? ORDER BY at LIMIT ?'),
    deleteEvent: db.prepare('DELETE FROM events WHERE seq = ?'),
    evict: db.prepare('INSERT OR REPLACE INTO evicted (seq, at) VALUES (?, ?)'),
    oldEvicted: db.prepare<[number, number], { seq: number }>('SELECT seq FROM evicted WHERE at < ? LIMIT ?'),
    forgetEvicted: db.prepare('DELETE FROM evicted WHERE seq = ?')
  }
}
type Sql = ReturnType<typeof prepare>

/** Counts kept in step with the file, read again after a rollback. */
interface Counts {
  /** Alerts that are not resolved. */
  unresolved: number
  /** The newest seq ever deleted: a replay from before it may have lost events. */
  deletedSeq: number
}

/**
 * The ids of the events within the replay window, each with its seq: what
 * `since` looks an id up in. The file keeps no index of event ids (random
 * UUIDs: an index would have each commit write a page at a random place per
 * event), and an id outside the window is a gap whether it is found or not.
 * Filled from the file at start, then with each commit's events.
 */
interface WindowIds {
  seqOf: (id: string) => number | undefined
  add: (id: string, seq: number, stream: Stream) => void
}

function createWindowIds (sql: Sql, replayWindow: number, cut: (stream: Stream) => number): WindowIds {
  // Per stream, id → seq in the order added (a Map keeps insertion order): the first is the oldest.
  const windows: Record<Stream, Map<string, number>> = { alert: new Map(), chat: new Map() }
  function add (id: string, seq: number, stream: Stream): void {
    const window = windows[stream]
    window.set(id, seq)
    if (window.size > replayWindow) window.delete(window.keys().next().value as string)
  }
  const alertCut = cut('alert')
  const chatCut = cut('chat')
  for (const row of sql.windowIds.iterate(Math.min(alertCut, chatCut), alertCut, chatCut)) add(row.id, row.seq, row.stream)
  return { seqOf: (id) => windows.alert.get(id) ?? windows.chat.get(id), add }
}

function recount (sql: Sql, counts: Counts): void {
  counts.unresolved = sql.countOpen.get()?.n ?? 0
  counts.deletedSeq = Number(sql.meta.get('deleted_seq')?.value ?? 0)
}

interface Writer {
  /**
   * Runs `step` in this turn's transaction (opened by the first write of the
   * turn); resolves with its result once the transaction has committed. A step
   * that throws is undone alone (its savepoint), unless SQLite rolled back the
   * whole transaction (a full disk): then every write of the turn fails.
   */
  write: <T>(step: (p: Pending) => T) => Promise<T>
  /** Commits the turn's transaction now (at close). */
  flush: () => void
  /** Why the file cannot be written, since the last failed commit; undefined once one succeeded. */
  problem: () => string | undefined
  close: () => void
}

/**
 * Group commit: the writes of one event-loop turn share one transaction, which
 * commits when the turn ends; only then are the events handed to `listeners`
 * and the callers answered.
 */
function createWriter (db: Db, sql: Sql, counts: Counts, windowIds: WindowIds, listeners: Array<(event: Event) => void>, turnListeners: Array<() => void>, onEvict: (ids: string[]) => void, log: Log): Writer {
  let pending: Pending[] = []
  let open = false
  let problem: string | undefined
  let closed = false

  function failTurn (err: Error): void {
    const failed = pending
    pending = []
    open = false
    recount(sql, counts)
    if (err instanceof StorageUnavailableError) {
      if (problem === undefined) log.error({ err }, 'the database cannot be written; publishing answers 503 until it can')
      problem = `storage unavailable: ${err.message}`
    }
    for (const p of failed) p.reject(err)
  }

  function commit (): void {
    if (!open) return
    try {
      sql.commit.run()
    } catch (err) {
      try { if (db.inTransaction) sql.rollback.run() } catch {}
      failTurn(storageError(err))
      return
    }
    const done = pending
    pending = []
    open = false
    if (problem !== undefined) log.info('the database can be written again')
    problem = undefined
    // `since` finds the turn's events before anyone hears of them.
    for (const p of done) p.events.forEach((event, i) => { windowIds.add(event.id, p.seqs[i] as number, streamOf(event)) })
    // The feed hears the turn's events in commit order, before any caller is answered.
    for (const p of done) for (const event of p.events) for (const listener of listeners) listener(event)
    for (const p of done) {
      if (p.evicted.length > 0) onEvict(p.evicted)
      p.resolve(p.result)
    }
  }

  async function write<T> (step: (p: Pending) => T): Promise<T> {
    if (closed) throw new StorageUnavailableError('the database is closed')
    return await new Promise<T>((resolve, reject) => {
      const p: Pending = { result: undefined, events: [], seqs: [], evicted: [], resolve: resolve as (value: unknown) => void, reject }
      try {
        if (!open) {
          sql.begin.run()
          open = true
          setImmediate(commit)
          for (const listener of turnListeners) listener()
        }
        sql.savepoint.run()
      } catch (err) {
        reject(storageError(err))
        return
      }
      try {
        p.result = step(p)
        sql.release.run()
      } catch (err) {
        const failure = storageError(err)
        if (!db.inTransaction) {
          pending.push(p)
          failTurn(failure)
          return
        }
        try {
          sql.rollbackTo.run()
          sql.release.run()
        } catch {}
        recount(sql, counts)
        reject(failure)
        return
      }
      pending.push(p)
    })
  }

  return {
    write,
    flush: commit,
    problem: () => problem,
    close () { closed = true }
  }
}

/** The event store on the file: every check and change a statement or two, in the turn's transaction. */
type SqliteOutbox = ReturnType<typeof createSqliteOutbox>

function createStore (sql: Sql, write: Writer['write'], counts: Counts, windowIds: WindowIds, cut: (stream: Stream) => number, outbox: SqliteOutbox, { replayWindow, openAlertsMax, now }: { replayWindow: number, openAlertsMax: number, now: () => number }): EventStore {
  const byId = (id: string): (AlertRow & { state: string }) | undefined => sql.alertById.get(idHash(id), id)
  const openByKey = (key: string): (AlertRow & { state: string }) | undefined => {
    const row = sql.lastByKey.get(key)
    return row?.state === 'resolved' ? undefined : row
  }

  function holds (expect: Expect): boolean {
    if (expect.kind === 'key-free') return openByKey(expect.key) === undefined
    if (expect.kind === 'rev') return byId(expect.alertId)?.rev === expect.rev
    return true
  }

  /**
   * `found`: the victim the append's check found before this alert was stored: still the one to go (an
   * alert less severe than it is refused, not stored), so one query fewer per raise at the cap.
   */
  function fold (alert: Alert, before: { state: string, seq: number } | undefined, rev: string, seq: number, p: Pending, json: string, found?: Victim): void {
    const resolvedAt = alert.state === 'resolved' ? Date.parse(alert.resolvedAt ?? alert.updatedAt) : null
    if (before === undefined) {
      sql.insertAlert.run(idHash(alert.id), alert.id, seq, rev, alert.key ?? null, alert.state, alert.severity, resolvedAt, json)
      if (alert.state !== 'resolved') counts.unresolved++
    } else {
      sql.updateAlert.run(rev, alert.key ?? null, alert.state, alert.severity, resolvedAt, json, before.seq)
      if (before.state !== 'resolved' && alert.state === 'resolved') counts.unresolved--
    }
    let known = found
    while (counts.unresolved > openAlertsMax) {
      const victim = known ?? oldestLeastSevere()
      known = undefined
      if (victim === undefined) break
      sql.deleteAlert.run(victim.seq)
      // Its events go RETENTION after it did (the sweep).
      sql.evict.run(victim.seq, now())
      counts.unresolved--
      p.evicted.push(victim.id)
    }
  }

  function oldestLeastSevere (): Victim | undefined {
    for (const severity of EVICTABLE) {
      const row = sql.oldestOpen.get(severity)
      if (row !== undefined) return { ...row, severity }
    }
    return undefined
  }

  /** The seq at or below which each stream's events are outside the replay window (0: none yet). */
  const cuts = (): { alert: number, chat: number } => ({ alert: cut('alert'), chat: cut('chat') })

  const parse = (rows: Array<{ json: string }>): Event[] => rows.map((row) => JSON.parse(row.json) as Event)

  return {
    async append (event: Event, expect: Expect = { kind: 'none' }, once?: Once): Promise<Appended> {
      return await write((p): Appended => {
        if (once !== undefined) {
          const prior = sql.prior.get(once.key, now())
          if (prior !== undefined) return { stored: false, prior: JSON.parse(prior.json) as Event }
        }
        if (!holds(expect)) return { stored: false }
        const alert = alertOf(event)
        // A raise is a new alert, with a new id: only an update has one to look up.
        const before = event.type === 'alert_update' ? byId(event.alert.id) : undefined
        const raising = alert !== undefined && before === undefined && alert.state !== 'resolved' && counts.unresolved >= openAlertsMax
        const victim = raising ? oldestLeastSevere() : undefined
        if (raising && noRoomFor(alert, victim?.severity)) return { stored: false, full: true }
        const json = JSON.stringify(event)
        const info = sql.insertEvent.run(event.id, streamOf(event), alert?.id ?? null, before?.seq ?? null, Date.parse(event.timestamp), json)
        const seq = Number(info.lastInsertRowid)
        // A raising event is the alert itself: its JSON is the alert's too.
        if (alert !== undefined) fold(alert, before, event.id, seq, p, alert === event ? json : JSON.stringify(alert), victim)
        // In the event's savepoint: stored with its notifications, or neither.
        outbox.written(event, now())
        if (once !== undefined) sql.remember.run(once.key, json, now() + once.ttlMs)
        p.events.push(event)
        p.seqs.push(seq)
        return { stored: true }
      })
    },
    async chats (count = replayWindow) {
      return parse(sql.chats.all(Math.min(count, replayWindow))) as Chat[]
    },
    async since (id, limit) {
      const cut = cuts()
      const at = id === undefined ? undefined : windowIds.seqOf(id)
      // Outside the window, or a later event of either stream left it (or was deleted): a gap.
      const found = id === undefined || (at !== undefined && at > Math.max(cut.alert, cut.chat, counts.deletedSeq))
      // One more than asked for tells whether more follow (-1: no limit).
      const rows = sql.after.all(found && at !== undefined ? at : Math.min(cut.alert, cut.chat), cut.alert, cut.chat, limit === undefined ? -1 : limit + 1)
      if (limit === undefined || rows.length <= limit) return { found, events: parse(rows) }
      return { found, events: parse(rows.slice(0, limit)), more: true }
    },
    async timeline (alertId) {
      // Its raising event is at the alert's seq; each update names that seq.
      const seq = byId(alertId)?.seq
      return seq === undefined ? [] : parse(sql.timeline.all(seq, seq))
    },
    async alert (id) {
      const row = byId(id)
      return row === undefined ? undefined : storedOf(row)
    },
    async openByKey (key) {
      const row = openByKey(key)
      return row === undefined ? undefined : storedOf(row)
    },
    async lastByKey (key) {
      const row = sql.lastByKey.get(key)
      return row === undefined ? undefined : storedOf(row)
    },
    async alerts (scope: AlertScope = {}) {
      const rows = scope.unresolved === true
        ? scope.severity === undefined ? sql.openAlerts.all() : sql.openOf.all(scope.severity)
        : sql.allAlerts.all().filter((row) => scope.severity === undefined || (JSON.parse(row.json) as Alert).severity === scope.severity)
      return rows.map(storedOf)
    },
    async newest (count, before = Number.MAX_SAFE_INTEGER, scope) {
      if (count <= 0) return []
      if (scope?.unresolved !== true) return sql.newest.all(before, count).map(storedOf)
      // The newest `count` of each severity hold the newest `count` of all: an
      // ordered range of the severity index each, merged, rather than an index
      // of the unresolved alerts by seq, which every raise and eviction would write.
      const rows = SEVERITIES.flatMap((severity) => sql.newestOpenOf.all(severity, before, count))
      return rows.sort((a, b) => b.seq - a.seq).slice(0, count).map(storedOf)
    }
  }
}

function createClaims (sql: Sql, write: Writer['write'], now: () => number): ClusterClaim {
  return {
    async claim (name, ttlMs) {
      return await write(() => {
        const t = now()
        sql.dropClaim.run(name, t)
        return sql.claim.run(name, t + ttlMs).changes === 1
      })
    }
  }
}

function createSettings (sql: Sql, write: Writer['write']): SettingStore {
  return {
    async keep (name, make) {
      const kept = sql.setting.get(name)
      if (kept !== undefined) return kept.value
      return await write(() => {
        sql.keepSetting.run(name, make())
        return (sql.setting.get(name) as { value: string }).value
      })
    }
  }
}

function createHeartbeats (sql: Sql, write: Writer['write']): HeartbeatStore {
  return {
    async ping (name, settings, pingWrite) {
      return await write(() => {
        const row = sql.monitor.get(name)
        if (row === undefined) {
          const { n } = sql.countMonitors.get() as { n: number }
          if (n >= pingWrite.max) throw new HeartbeatsFullError(`there are ${n} heartbeat monitors, the most allowed (HEARTBEATS_MAX); remove one first`)
        }
        const applied = applyPing(row === undefined ? undefined : monitorOf(row), name, settings, pingWrite)
        const { monitor } = applied
        sql.ping.run({
          name,
          everyMs: monitor.everyMs,
          graceMs: monitor.graceMs,
          severity: monitor.severity,
          location: monitor.location,
          lastPing: monitor.lastPing,
          missed: monitor.missed ?? null,
          deadline: monitor.deadline,
          schedule: monitor.schedule ?? null,
          tz: monitor.tz ?? null,
          startedAt: monitor.startedAt ?? null
        })
        sql.addPing.run(name, JSON.stringify(applied.ping))
        sql.trimPings.run({ name })
        return applied
      })
    },
    async get (name) {
      const row = sql.monitor.get(name)
      return row === undefined ? undefined : monitorOf(row)
    },
    async pings (name) {
      return sql.pingsOf.all(name).map((row) => JSON.parse(row.json) as HeartbeatPing)
    },
    async list () {
      return sql.monitors.all().map(monitorOf)
    },
    async due (now) {
      return sql.dueMonitors.all(now).map(monitorOf)
    },
    async count (now) {
      return { total: (sql.countMonitors.get() as { n: number }).n, missed: (sql.countMissed.get(now) as { n: number }).n }
    },
    async remove (name) {
      return await write(() => {
        const row = sql.monitor.get(name)
        if (row !== undefined) {
          sql.removeMonitor.run(name)
          sql.removePings.run(name)
        }
        return row === undefined ? undefined : monitorOf(row)
      })
    },
    async claimMiss (name, lastPing) {
      return await write(() => sql.claimMiss.run(lastPing, name, lastPing).changes === 1)
    }
  }
}

/** One batch of the sweep: resolved alerts with their events, then chat, then the events of alerts dropped for room (evicted). */
function sweepBatch (sql: Sql, counts: Counts, outbox: SqliteOutbox, cutoff: number, now: number): number {
  let deleted = 0
  let newest = counts.deletedSeq
  /** Deletes the events of the alert raised at `seq`: its raising event and every update. */
  function eventsOfAlert (seq: number): number {
    newest = Math.max(newest, seq, sql.eventsOf.get(seq)?.seq ?? 0)
    return sql.deleteEventsOf.run(seq).changes + sql.deleteEvent.run(seq).changes
  }
  for (const { seq } of sql.oldResolved.all(cutoff, SWEEP_BATCH)) {
    deleted += eventsOfAlert(seq)
    sql.deleteAlert.run(seq)
  }
  if (deleted < SWEEP_BATCH) {
    for (const { seq } of sql.oldChat.all(cutoff, SWEEP_BATCH)) {
      newest = Math.max(newest, seq)
      deleted += sql.deleteEvent.run(seq).changes
    }
  }
  if (deleted < SWEEP_BATCH) {
    for (const { seq } of sql.oldEvicted.all(cutoff, SWEEP_BATCH)) {
      deleted += eventsOfAlert(seq)
      sql.forgetEvicted.run(seq)
    }
  }
  if (deleted < SWEEP_BATCH) deleted += outbox.sweep(cutoff, SWEEP_BATCH)
  sql.forgetKeys.run(now, SWEEP_BATCH)
  sql.forgetClaims.run(now)
  if (newest > counts.deletedSeq) sql.setMeta.run('deleted_seq', String(newest))
  return deleted
}

/**
 * The backend of one process, durable: every event, the alerts as they stand,
 * idempotency keys, claims and heartbeat monitors in one SQLite file.
 *
 * Writes of one event-loop turn share one transaction (group commit): each
 * runs at once, inside a savepoint of the turn's transaction, so that its
 * checks see every earlier write; the transaction commits when the turn
 * ends, and only then are the events handed to the feed and the callers'
 * promises resolved. A 2xx therefore means committed, and a failed commit
 * (a full disk) stores, sends and answers nothing of that turn.
 */
export function createSqliteBackend ({ dir, replayWindow, openAlertsMax = 10000, onEvict = () => {}, synchronous = 'normal', now = Date.now, maxPages, log }: SqliteBackendOptions): SqliteBackend {
  const { db, lock, file } = openDatabase(dir, synchronous)
  if (maxPages !== undefined) db.pragma(`max_page_count = ${maxPages}`)
  const sql = prepare(db)
  const counts: Counts = { unresolved: 0, deletedSeq: 0 }
  recount(sql, counts)
  const listeners: Array<(event: Event) => void> = []
  const turnListeners: Array<() => void> = []
  const cut = (stream: Stream): number => sql.cut.get(stream, replayWindow)?.seq ?? 0
  const windowIds = createWindowIds(sql, replayWindow, cut)
  const { write, flush, problem, close: closeWriter } = createWriter(db, sql, counts, windowIds, listeners, turnListeners, onEvict, log)

  const outbox = createSqliteOutbox(db, async (step) => await write(step), now)
  const silences = createSqliteSilences(db, async (step) => await write(step))
  const store = createStore(sql, write, counts, windowIds, cut, outbox, { replayWindow, openAlertsMax, now })
  const claims = createClaims(sql, write, now)
  const heartbeats = createHeartbeats(sql, write)
  const feed: EventFeed = {
    subscribe (listener) { listeners.push(listener) },
    onTurn (listener) { turnListeners.push(listener) }
  }

  return {
    kind: 'sqlite',
    description: file,
    file,
    db,
    store,
    feed,
    claims,
    heartbeats,
    outbox,
    silences,
    settings: createSettings(sql, write),
    problem,
    async sweep (cutoff) {
      let total = 0
      for (;;) {
        const deleted = await write(() => sweepBatch(sql, counts, outbox, cutoff, now()))
        counts.deletedSeq = Math.max(counts.deletedSeq, Number(sql.meta.get('deleted_seq')?.value ?? 0))
        total += deleted
        if (deleted === 0 || !db.open) return total
      }
    },
    async probe () {
      if (problem === undefined) return
      await write(() => sql.setMeta.run('probe', String(now()))).catch(() => {})
    },
    async close () {
      if (!db.open) return
      flush()
      closeWriter()
      db.close()
      lock.close()
    }
  }
}
