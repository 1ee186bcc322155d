import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from './helpers/app'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'

// Clients that open ?since=all on a long history and never read, against a
// real server process: what the server holds for each must stay about the
// backlog limit. It used to read the whole history for each of them, and
// keep it until the client read (some 4 MiB per client for 4,000 alerts of
// 1.2 KB, under a 1 MiB limit). What is held is read from the server's own
// count (alert_server_replay_held_bytes), not from its RSS: RSS moves with
// the garbage collector's timing (bench/README.md has the RSS figures).

const ROOT = resolve(__dirname, '..')
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }
// Far past what loopback's kernel buffers take for a connection that does not read (a few MiB).
const ALERTS = 10_000
const CLIENTS = 12
const LIMIT = 64 * 1024
const TEXT = 'x'.repeat(1000)

const sample = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

t.test('12 clients replaying a 12 MB history that never read: the server holds about the backlog limit for each, and a client that reads gets it all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'replay-memory-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = { STORE: 'sqlite', DATA_DIR: dir, REPLAY_WINDOW: ALERTS }
  // The history, written by an app of this process into the file the server will open.
  const seed = await build(t, env)
  // In batches: each is one commit (a keyless alert is appended as publish() is called, so the order stays 0, 1, 2...).
  for (let i = 0; i < ALERTS; i += 500) {
    await Promise.all(Array.from({ length: 500 }, async (_, j) => await seed.publisher.publish({ type: 'alert', message: `${i + j} ${TEXT}`, location: 'here' })))
  }
  await seed.close()

  const cwd = mkdtempSync(join(tmpdir(), 'replay-memory-server-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  // Timeouts raised: a busy machine may take a while to read a handshake while replays run, and this test is not about timeouts.
  writeFileSync(join(cwd, '.env'), Object.entries({ ...env, PORT: 0, ALERT_INTERVAL_MS: 0, MAX_EVENT_LOOP_DELAY_MS: 0, RATE_LIMIT_MAX: 1_000_000, WS_MAX_BUFFERED_BYTES: LIMIT, HEADERS_TIMEOUT_MS: 120_000, REQUEST_TIMEOUT_MS: 120_000 })
    .map(([name, value]) => `${name}=${value}\n`).join(''))
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'server.ts')], {
    cwd, env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...NO_COVERAGE }, stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await waitFor(() => /Server listening at/.test(output) || child.exitCode !== null, 30_000)
  const base = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0]
  if (base === undefined) throw new Error(`the server did not start:\n${output}`)
  const metrics = async (): Promise<string> => await (await fetch(`${base}/metrics`)).text()

  const clients: Client[] = []
  for (let i = 0; i < CLIENTS; i++) {
    const client = new Client(`${base.replace('http', 'ws')}/ws?since=all`)
    t.teardown(() => client.socket.terminate())
    // Paused as it opens, before any frame is read: it never reads.
    client.socket.once('open', () => client.socket.pause())
    clients.push(client)
    // One handshake at a time.
    await once(client.socket, 'open')
  }
  // Every replay has filled what the kernel takes and waits for its client.
  let text = ''
  await waitFor(async () => {
    text = await metrics()
    return sample(text, 'alert_server_replays{state="waiting"}') === CLIENTS
  }, 60_000)
  const held = sample(text, 'alert_server_replay_held_bytes')
  // A page (about half the limit) and a backlog (at most half the limit and a chunk) each.
  t.ok(held <= CLIENTS * 1.5 * LIMIT, `held ${held} bytes for ${CLIENTS} clients (limit ${LIMIT} each; the history is some ${ALERTS * 1.1 / 1000} MB)`)
  t.ok(held > 0, 'and something: the count is the one that grows with a stalled replay')
  t.equal(sample(text, 'alert_server_subscribers{transport="websocket"}'), CLIENTS, 'slow is not gone: none was cut')
  t.equal(sample(text, 'alert_server_replays{state="running"}'), CLIENTS)

  // One reads at last: the whole history, in order, page after page.
  const [reader] = clients as [Client]
  reader.socket.resume()
  for (let i = 0; i < ALERTS; i++) {
    const frame = await reader.next(20_000)
    if (frame.message !== `${i} ${TEXT}`) {
      t.fail(`frame ${i} out of order: ${String(frame.message).slice(0, 20)}`)
      break
    }
  }
  await waitFor(async () => sample(await metrics(), 'alert_server_replays{state="running"}') === CLIENTS - 1)
  const res = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'live', location: 'after' }) })
  t.equal(res.status, 200)
  t.match(await reader.next(), { message: 'live' }, 'then live events')
})
