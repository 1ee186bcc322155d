/**
 * Start-up on a large SQLite file: how long `node dist/server.js` takes until
 * /ready answers 200, and its RSS then, with 1,000,000 stored events and 10,000
 * open alerts, against an empty store. Usage (after npm run build):
 *
 *   npm run bench:startup                 1,000,000 events, 3 starts of each
 *   npm run bench:startup -- --events 100000 --runs 1
 *
 * Writes bench/results/startup.md. The file is made once per run in a
 * temporary directory (about 20 s and 500 MB) and removed afterwards.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { openDatabase } from '../plugins/core/sqlite-backend'
import { idHash } from '../plugins/core/sqlite-schema'

// Compiled to bench/.build/bench/: three levels below the project root.
const ROOT = path.resolve(__dirname, '..', '..', '..')
const SERVER = path.join(ROOT, 'dist', 'server.js')

function option (name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}

/** Fills `dir` with `events` events: `open` open alerts (one event each), the rest resolved alerts (raised, then resolved) and chat. */
function fill (dir: string, events: number, open: number): void {
  const { db, lock } = openDatabase(dir)
  // alert_seq: an update names its alert's raising event, as the server writes it (the timeline reads it).
  const insertEvent = db.prepare('INSERT INTO events (id, stream, alert_id, alert_seq, at, json) VALUES (?, ?, ?, ?, ?, ?)')
  const insertAlert = db.prepare('INSERT INTO alerts (id_hash, id, seq, rev, key, state, severity, resolved_at, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const start = Date.now() - events * 1000
  let written = 0
  const alert = (i: number, state: 'open' | 'resolved'): Record<string, unknown> => ({
    id: randomUUID(),
    timestamp: new Date(start + i * 1000).toISOString(),
    type: 'alert',
    message: `Disk usage above 90% on volume /var/lib/data of host db${i % 50} (${i})`,
    location: `rack-${i % 20}`,
    severity: ['info', 'warning', 'critical'][i % 3],
    state,
    count: 1,
    updatedAt: new Date(start + i * 1000).toISOString(),
    source: 'api',
    key: `disk:db${i}`,
    tags: ['disk', `db${i % 50}`]
  })
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to && written < events; i++) {
      const at = start + i * 1000
      if (i < open) {
        const a = alert(i, 'open')
        const seq = Number(insertEvent.run(a.id, 'alert', a.id, null, at, JSON.stringify(a)).lastInsertRowid)
        insertAlert.run(idHash(String(a.id)), a.id, seq, a.id, a.key, 'open', a.severity, null, JSON.stringify(a))
        written++
      } else if (i % 10 === 0) {
        insertEvent.run(randomUUID(), 'chat', null, null, at, JSON.stringify({ id: randomUUID(), timestamp: new Date(at).toISOString(), type: 'chat', sender: 'ops', message: `chat ${i}` }))
        written++
      } else {
        const a = alert(i, 'open')
        const seq = Number(insertEvent.run(a.id, 'alert', a.id, null, at, JSON.stringify(a)).lastInsertRowid)
        const resolvedAt = new Date(at + 500).toISOString()
        const resolved = { ...a, state: 'resolved', updatedAt: resolvedAt, resolvedBy: 'ops', resolvedAt }
        const update = { id: randomUUID(), timestamp: resolvedAt, type: 'alert_update', change: 'resolved', alert: resolved, by: 'ops' }
        insertEvent.run(update.id, 'alert', a.id, seq, at + 500, JSON.stringify(update))
        insertAlert.run(idHash(String(a.id)), a.id, seq, update.id, a.key, 'resolved', a.severity, at + 500, JSON.stringify(resolved))
        written += 2
      }
    }
  })
  for (let i = 0; i < events * 2; i += 50_000) {
    batch(i, i + 50_000)
    if (written >= events) break
  }
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  lock.close()
}

async function ready (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/ready' }, (res) => { res.resume(); resolve(res.statusCode === 200) }).on('error', () => resolve(false))
  })
}

/** Starts the server on `dir`; the ms until /ready answers 200 and the RSS then (KiB). */
async function start (dir: string): Promise<{ ms: number, rssKiB: number }> {
  const began = process.hrtime.bigint()
  const child = spawn(process.execPath, [SERVER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', STORE: 'sqlite', DATA_DIR: dir, PORT: '0', ALERT_INTERVAL_MS: '0', LOG_LEVEL: 'info', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 60 s: ${out}`)), 60_000)
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const found = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (found !== null) { clearTimeout(timer); resolve(Number(found[1])) }
    })
    child.once('exit', () => reject(new Error(`exited: ${out}`)))
  })
  while (!await ready(port)) await new Promise((resolve) => setTimeout(resolve, 10))
  const ms = Number(process.hrtime.bigint() - began) / 1e6
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8'))?.[1])
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
  return { ms, rssKiB }
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number

async function main (): Promise<void> {
  const events = option('events', 1_000_000)
  const open = option('open', 10_000)
  const runs = option('runs', 3)
  const big = mkdtempSync(path.join(os.tmpdir(), 'alert-startup-big-'))
  const empty = mkdtempSync(path.join(os.tmpdir(), 'alert-startup-empty-'))
  try {
    const t0 = Date.now()
    fill(big, events, open)
    const bytes = statSync(path.join(big, 'alerts.db')).size
    process.stdout.write(`made ${events.toLocaleString('en-US')} events (${open.toLocaleString('en-US')} open alerts) in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(bytes / 2 ** 20).toFixed(0)} MiB\n`)
    const results: Record<'empty' | 'big', Array<{ ms: number, rssKiB: number }>> = { empty: [], big: [] }
    for (let i = 0; i < runs; i++) {
      for (const [name, dir] of [['empty', empty], ['big', big]] as const) {
        const r = await start(dir)
        results[name].push(r)
        process.stdout.write(`${name}: ready in ${r.ms.toFixed(0)} ms, RSS ${(r.rssKiB / 1024).toFixed(1)} MiB\n`)
      }
    }
    const row = (name: 'empty' | 'big'): string => {
      const ms = results[name].map((r) => r.ms)
      const rss = results[name].map((r) => r.rssKiB / 1024)
      return `| ${name === 'empty' ? 'empty store' : `${events.toLocaleString('en-US')} events, ${open.toLocaleString('en-US')} open alerts (${(bytes / 2 ** 20).toFixed(0)} MiB)`} | ` +
        `${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}) | ${median(rss).toFixed(1)} (${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}) |`
    }
    const md = `Start-up on SQLite, ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? ''}; ` +
      `${runs} start(s) each, alternating; from spawning \`node dist/server.js\` to /ready answering 200.\n\n` +
      '| store | ready, ms: median (min–max) | RSS at ready, MiB: median (min–max) |\n| --- | --- | --- |\n' +
      `${row('empty')}\n${row('big')}\n\nRSS difference (medians): ${((median(results.big.map((r) => r.rssKiB)) - median(results.empty.map((r) => r.rssKiB))) / 1024).toFixed(1)} MiB.\n`
    writeFileSync(path.join(ROOT, 'bench', 'results', 'startup.md'), md)
    process.stdout.write(`\n${md}`)
  } finally {
    rmSync(big, { recursive: true, force: true })
    rmSync(empty, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
