/** npm run backup while the server publishes; npm run restore with it stopped; and their refusals. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import Database from 'better-sqlite3'
import { build } from './helpers/app'
import { postAlert } from './helpers/http'
import { backup, restore } from '../plugins/core/sqlite-backup'
import { DATABASE_FILE } from '../plugins/core/sqlite-backend'

const ROOT = join(__dirname, '..')
const tsx = join(ROOT, 'node_modules', '.bin', 'tsx')

/** Runs one of the commands as a user would (npm run backup -- <file>), with DATA_DIR set. */
function command (name: 'backup' | 'restore', file: string, dataDir: string): { status: number | null, stdout: string, stderr: string } {
  const env = { PATH: process.env.PATH, DATA_DIR: dataDir, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }
  const run = spawnSync(tsx, [join(ROOT, 'scripts', `${name}.ts`), file], { env, encoding: 'utf8', timeout: 60_000, cwd: tmpdir() })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

t.test('a backup taken while alerts are published is consistent; stop, wipe, restore, start: the board is back', async (t) => {
  const dir = t.testdir()
  const data = join(dir, 'data')
  const app = await build(t, { STORE: 'sqlite', DATA_DIR: data })
  for (let i = 0; i < 50; i++) await postAlert(app, { message: `before ${i}`, location: 'x', key: i % 3 === 0 ? `k${i % 9}` : undefined })
  // Publishing goes on while the backup runs in its own process.
  const state = { publishing: true }
  const during = (async () => { let i = 0; while (state.publishing) await postAlert(app, { message: `during ${i++}`, location: 'y' }) })()
  const target = join(dir, 'backup.db')
  const made = await new Promise<ReturnType<typeof command>>((resolve) => setImmediate(() => resolve(command('backup', target, data))))
  state.publishing = false
  await during
  t.equal(made.status, 0, made.stderr)
  t.match(made.stdout, /^backed up \d+ alerts and \d+ events to .*backup\.db \(\d+ KiB\)\n$/)

  // Read, never written: writes refused by the connection itself.
  const copy = new Database(target, { fileMustExist: true })
  copy.pragma('query_only = ON')
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok')
  const orphans = copy.prepare('SELECT count(*) AS n FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.rev)').get() as { n: number }
  t.equal(orphans.n, 0, 'every alert in the backup has the event that last changed it')
  const backedUp = (copy.prepare('SELECT id FROM alerts ORDER BY seq').all() as Array<{ id: string }>).map((r) => r.id)
  copy.close()
  t.ok(backedUp.length >= 36, `${backedUp.length} alerts in the backup`)

  await app.close()
  rmSync(data, { recursive: true })
  const restored = command('restore', target, data)
  t.equal(restored.status, 0, restored.stderr)
  t.match(restored.stdout, /^restored .*backup\.db into /)
  const again = await build(t, { STORE: 'sqlite', DATA_DIR: data })
  const board = (await again.inject('/alerts?limit=1000')).json().alerts as Array<{ id: string }>
  t.same(board.map((a) => a.id).reverse(), backedUp, 'the board of the backup, every alert')
  t.equal((await postAlert(again, { message: 'after', location: 'z' })).statusCode, 200, 'and the server publishes on it')
})

t.test('restore keeps the database it replaces, and drops its WAL', async (t) => {
  const dir = t.testdir()
  const data = join(dir, 'data')
  const first = await build(t, { STORE: 'sqlite', DATA_DIR: data })
  const kept = (await postAlert(first, { message: 'in the backup', location: 'x' })).json()
  backup(data, join(dir, 'b.db'))
  await postAlert(first, { message: 'after the backup', location: 'x' })
  await first.close()
  const old = restore(data, join(dir, 'b.db'), new Date('2026-12-07T10:00:00Z'))
  t.equal(old, join(data, `${DATABASE_FILE}.replaced-2026-12-07T10-00-00-000Z`))
  t.ok(existsSync(old ?? ''), 'the replaced database is kept')
  t.notOk(existsSync(join(data, `${DATABASE_FILE}-wal`)), 'no WAL of the replaced database next to the restored one')
  const again = await build(t, { STORE: 'sqlite', DATA_DIR: data })
  t.same((await again.inject('/alerts')).json().alerts.map((a: { id: string }) => a.id), [kept.id])
})

t.test('refusals: restore while a server runs, a file that is not a backup, a backup over a file, no database', async (t) => {
  const dir = t.testdir({ 'junk.db': 'not a database '.repeat(200), 'exists.db': 'x' })
  const data = join(dir, 'data')
  await build(t, { STORE: 'sqlite', DATA_DIR: data })
  backup(data, join(dir, 'ok.db'))
  const running = command('restore', join(dir, 'ok.db'), data)
  t.equal(running.status, 1)
  t.equal(running.stderr, `Cannot restore: ${join(data, DATABASE_FILE)} is in use by another server process: stop it, or give this one another DATA_DIR\n`)
  const junk = command('restore', join(dir, 'junk.db'), data)
  t.match(junk, { status: 1, stderr: /^Cannot restore: .*junk\.db is not an SQLite database or is damaged/ })
  const empty = new Database(join(dir, 'empty.db'))
  empty.close()
  t.match(command('restore', join(dir, 'empty.db'), data), { status: 1, stderr: /is not a backup of this server \(no events table\)/ })
  t.match(command('backup', join(dir, 'exists.db'), data), { status: 1, stderr: /^Cannot back up: .*exists\.db already exists: give a new file name\n$/ })
  t.match(command('backup', join(dir, 'x.db'), join(dir, 'nowhere')), { status: 1, stderr: /^Cannot back up: no database at .*nowhere\/alerts\.db: is DATA_DIR right\?\n$/ })
  t.match(command('restore', join(dir, 'missing.db'), data), { status: 1, stderr: /missing\.db does not exist/ })
  // Its coverage stays out of the report, as the command's above: it loads the sources through another loader (tsx).
  t.match(spawnSync(tsx, [join(ROOT, 'scripts', 'backup.ts')], { encoding: 'utf8', env: { PATH: process.env.PATH, _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' } }), { status: 2, stderr: 'usage: npm run backup -- <file>\n' })
})
