/**
 * A one-off measurement, not part of `npm run bench`: the server's RSS while
 * clients replay a long history with ?since=all and never read. Seeds an
 * SQLite file with 4,000 alerts of about 1.2 KB, starts `server.ts` on it
 * (through tsx, from the sources), opens 12 WebSockets that never read, and
 * prints the RSS before, 3 s and 10 s after, with what the server counts as
 * held for the replays (alert_server_replay_held_bytes). Usage:
 *
 *   node --import tsx bench/replay-rss.ts [--alerts 4000] [--clients 12]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { build } from '../app'
import { loadConfig } from '../plugins/app/config'

const ROOT = path.resolve(__dirname, '..')
const TSX = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href

function option (name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024

async function main (): Promise<void> {
  const alerts = option('alerts', 4000)
  const clients = option('clients', 12)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'replay-rss-'))
  const env = { STORE: 'sqlite', DATA_DIR: dir, REPLAY_WINDOW: alerts, ALERT_INTERVAL_MS: 0, MAX_EVENT_LOOP_DELAY_MS: 0, RATE_LIMIT_MAX: 1_000_000 }
  const seed = build(loadConfig(env), false)
  await seed.ready()
  const text = 'x'.repeat(1000)
  for (let i = 0; i < alerts; i++) await seed.publisher.publish({ type: 'alert', message: `${i} ${text}`, location: 'Loading dock' })
  await seed.close()

  writeFileSync(path.join(dir, '.env'), Object.entries({ ...env, PORT: 0 }).map(([k, v]) => `${k}=${v}\n`).join(''))
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'server.ts')], { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  while (!/Server listening at/.test(output)) await sleep(50)
  const base = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0] ?? ''
  const held = async (): Promise<string> => /^alert_server_replay_held_bytes (\S+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 'not counted'
  await fetch(`${base}/ready`)
  const before = rssMiB(child.pid ?? 0)
  const sockets: WebSocket[] = []
  for (let i = 0; i < clients; i++) {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?since=all`)
    socket.once('open', () => socket.pause())
    sockets.push(socket)
  }
  await sleep(3000)
  const at3 = rssMiB(child.pid ?? 0)
  const held3 = await held()
  await sleep(7000)
  const at10 = rssMiB(child.pid ?? 0)
  console.log(JSON.stringify({ alerts, clients, rssBeforeMiB: before.toFixed(1), rssAfter3sMiB: at3.toFixed(1), rssAfter10sMiB: at10.toFixed(1), heldBytesAt3s: held3, heldBytesAt10s: await held() }))
  for (const socket of sockets) socket.terminate()
  child.kill()
  rmSync(dir, { recursive: true, force: true })
}

void main()
