/**
 * Writes an online backup of the SQLite database (DATA_DIR/alerts.db, DATA_DIR
 * from the environment or .env, as the server reads it) to a new file, while
 * the server runs:
 *
 *   npm run backup -- backups/alerts-2026-12-07.db
 *
 * Compiled by the build for a production install: node dist/scripts/backup.js <file>
 */
import { loadConfig } from '../plugins/app/config'
import { backup } from '../plugins/core/sqlite-backup'

/* c8 ignore start - the command line around backup(), run in child processes by test/backup.test.ts */
if (require.main === module) {
  const [target, ...rest] = process.argv.slice(2)
  if (target === undefined || rest.length > 0) {
    process.stderr.write('usage: npm run backup -- <file>\n')
    process.exit(2)
  }
  try {
    const { DATA_DIR } = loadConfig(process.env, { dotenv: true })
    const made = backup(DATA_DIR, target)
    process.stdout.write(`backed up ${made.alerts} alerts and ${made.events} events to ${made.file} (${Math.ceil(made.bytes / 1024)} KiB)\n`)
  } catch (err) {
    process.stderr.write(`Cannot back up: ${(err as Error).message.split('\n')[0] ?? ''}\n`)
    process.exit(1)
  }
}
/* c8 ignore stop */
