/**
 * Backup and restore of the SQLite file, for `npm run backup` and
 * `npm run restore` (scripts/). A backup is taken while the server runs and
 * publishes; a restore needs it stopped.
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DATABASE_FILE, lockDirectory } from './sqlite-backend'
import { SCHEMA_VERSION } from './sqlite-schema'

export interface BackupResult { file: string, bytes: number, alerts: number, events: number }

/**
 * Writes a consistent copy of DATA_DIR's database to `target` with VACUUM
 * INTO: one read transaction, so the copy is the file as it stood at one
 * moment, whatever the server writes meanwhile (WAL lets both go on), and it
 * never starts over as the page-by-page backup API does when the source
 * changes under it. The copy is compact and has no WAL of its own.
 */
export function backup (dataDir: string, target: string): BackupResult {
  const source = join(resolve(dataDir), DATABASE_FILE)
  const file = resolve(target)
  if (!existsSync(source)) throw new Error(`no database at ${source}: is DATA_DIR right?`)
  if (existsSync(file)) throw new Error(`${file} already exists: give a new file name`)
  const db = new Database(source, { fileMustExist: true, timeout: 5000 })
  try {
    db.prepare('VACUUM INTO ?').run(file)
  } finally {
    db.close()
  }
  const copy = new Database(file, { readonly: true })
  try {
    const count = (table: string): number => (copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return { file, bytes: statSync(file).size, alerts: count('alerts'), events: count('events') }
  } finally {
    copy.close()
  }
}

/** Why `file` cannot be restored, or undefined when it is a backup this version can use. */
export function checkBackup (file: string): string | undefined {
  if (!existsSync(file)) return `${file} does not exist`
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const version = db.pragma('user_version', { simple: true }) as number
    if (version === 0 || db.prepare('SELECT 1 FROM sqlite_master WHERE name = \'events\'').get() === undefined) return `${file} is not a backup of this server (no events table)`
    if (version > SCHEMA_VERSION) return `${file} was written by a newer version of this server (schema ${version}; this version knows up to ${SCHEMA_VERSION})`
    const check = db.pragma('integrity_check', { simple: true })
    if (check !== 'ok') return `${file} is damaged: ${String(check)}`
    return undefined
  } catch (err) {
    return `${file} is not an SQLite database or is damaged (${(err as Error).message})`
  } finally {
    db?.close()
  }
}

/**
 * Puts a backup in place of DATA_DIR's database: refused while a server holds
 * the directory, or when the file is not a sound backup. The database it
 * replaces is kept beside it (alerts.db.replaced-<time>), and its WAL is
 * removed, since a WAL left over from another database must never be applied
 * to the restored one. Returns the name the old file was kept under, if any.
 */
export function restore (dataDir: string, backupFile: string, now = new Date()): string | undefined {
  const dir = resolve(dataDir)
  const file = resolve(backupFile)
  const problem = checkBackup(file)
  if (problem !== undefined) throw new Error(problem)
  // A directory wiped (or never made) is restored into, as into an empty one.
  mkdirSync(dir, { recursive: true })
  const lock = lockDirectory(dir)
  try {
    const target = join(dir, DATABASE_FILE)
    const staging = `${target}.restoring`
    rmSync(staging, { force: true })
    // Copied through SQLite, so the staged file is whole before it is renamed into place.
    const source = new Database(file, { readonly: true })
    try {
      source.prepare('VACUUM INTO ?').run(staging)
    } finally {
      source.close()
    }
    let kept: string | undefined
    if (existsSync(target)) {
      kept = `${target}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`
      renameSync(target, kept)
      for (const suffix of ['-wal', '-shm']) if (existsSync(`${target}${suffix}`)) renameSync(`${target}${suffix}`, `${kept}${suffix}`)
    }
    renameSync(staging, target)
    return kept
  } finally {
    lock.close()
  }
}
