/**
 * Puts a backup in place of the SQLite database (DATA_DIR/alerts.db), with the
 * server stopped; the database it replaces is kept beside it:
 *
 *   npm run restore -- backups/alerts-2026-12-07.db
 *
 * Compiled by the build for a production install: node dist/scripts/restore.js <file>
 */
import { loadConfig } from '../plugins/app/config'
import { restore } from '../plugins/core/sqlite-backup'

/* c8 ignore start - the command line around restore(), run in child processes by test/backup.test.ts */
if (require.main === module) {
  const [source, ...rest] = process.argv.slice(2)
  if (source === undefined || rest.length > 0) {
    process.stderr.write('usage: npm run restore -- <file>\n')
    process.exit(2)
  }
  try {
    const { DATA_DIR } = loadConfig(process.env, { dotenv: true })
    const kept = restore(DATA_DIR, source)
    process.stdout.write(`restored ${source} into ${DATA_DIR}${kept === undefined ? '' : `; the database it replaced is kept as ${kept}`}\n`)
  } catch (err) {
    process.stderr.write(`Cannot restore: ${(err as Error).message.split('\n')[0] ?? ''}\n`)
    process.exit(1)
  }
}
/* c8 ignore stop */
