import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, get, type Server } from 'node:http'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { CommandName, Commands, FilterSpec, Reply } from './loadgen'
import {
  write, median, percentile,
  type Background, type BurstRun, type FilteredRun, type IngestRun, type LatencyRun, type MemoryRun, type Meta, type Problems, type Runs,
  type ScenarioName, type Settings, type SlowRun, type Target
} from './report'

/**
 * Runs every scenario against the project and the reference server in the same
 * run, alternating between them round after round, with the server on one core
 * and the load generator on the other. Usage:
 *
 *   npm run bench                         full run (11–15 minutes), writes bench/results/latest.*
 *   npm run bench -- --quick              small sizes, one round: a smoke run of a minute or two
 *   npm run bench -- --only burst,slow    some scenarios (latency, burst, memory, ingest, slow, filtered)
 *   npm run bench -- --rounds 3           rounds per server (default 2; 1 with --quick and for slow)
 *   npm run bench -- --no-pin             do not pin processes to cores
 *   npm run bench -- --cpu-prof           write V8 CPU profiles of every project server and of the load
 *                                         generator to bench/results/profiles/
 *   npm run bench -- --connections 10     autocannon connections for ingest (default 50)
 *   npm run bench -- --synchronous full   the project on SQLite with SQLITE_SYNCHRONOUS=full
 *   npm run bench -- --stores memory      the project's stores to run latency, burst and ingest on
 *                                         (default memory,sqlite: the project in memory, and on SQLite
 *                                         as `project-sqlite`, in the same run)
 *   npm run bench -- --no-notify          without `project-notify` in latency and burst: the project in
 *                                         memory with three NOTIFY_FILE routes matching every alert, to a
 *                                         webhook on loopback that answers after 1 s
 *
 * Only full runs of every scenario write latest.*; other runs write quick.* or partial.*
 * (or the name given with --out).
 */

const SCENARIOS: ScenarioName[] = ['latency', 'burst', 'memory', 'ingest', 'slow', 'filtered']

const FULL: Omit<Settings, 'quick' | 'rounds' | 'scenarios' | 'serverEnv'> = {
  latency: { sizes: [1000, 5000, 10000], alerts: 50, warmup: 5 },
  burst: { clients: 1000, alerts: 500, inflight: 16, warmup: 50 },
  memory: { sizes: [1000, 10000] },
  ingest: { connections: 50, durationS: 10, warmupS: 2 },
  // Frames of ~1.3 KB: 4,000 of them (~5.3 MB) overrun what the kernel holds for
  // a client that stopped reading (~4 MB on loopback here), so more than 1 MiB
  // piles up in the server. Over 5 GB through loopback per run: one round only.
  slow: { clients: 1000, slowEvery: 100, alerts: 4000, inflight: 16, rounds: 1 },
  // 1,000 WebSockets over 10 filters and 100 SSE readers over the same 10, plus one unfiltered monitor.
  filtered: { wsClients: 1000, sseClients: 100, alerts: 600, inflight: 16, warmup: 60 }
}

const QUICK: typeof FULL = {
  latency: { sizes: [100, 500], alerts: 20, warmup: 3 },
  burst: { clients: 200, alerts: 100, inflight: 16, warmup: 20 },
  memory: { sizes: [200, 1000] },
  ingest: { connections: 50, durationS: 3, warmupS: 1 },
  slow: { clients: 200, slowEvery: 100, alerts: 1000, inflight: 16, rounds: 1 },
  filtered: { wsClients: 200, sseClients: 20, alerts: 120, inflight: 16, warmup: 12 }
}

// Ten distinct filters of /ws and /events over the severities and locations
// the filtered burst's alerts cycle through (loadgen.ts checks each stream
// against the same specification).
const FILTERS: FilterSpec[] = [
  { query: 'severity=critical', severity: ['critical'] },
  { query: 'severity=warning', severity: ['warning'] },
  { query: 'severity=info', severity: ['info'] },
  { query: 'location=North', location: ['North'] },
  { query: 'location=South', location: ['South'] },
  { query: 'location=East,West', location: ['East', 'West'] },
  { query: 'min_severity=warning', minSeverity: 1 },
  { query: 'severity=critical&location=North,South', severity: ['critical'], location: ['North', 'South'] },
  { query: 'types=alert&location=West', location: ['West'] },
  { query: 'min_severity=critical&location=East', minSeverity: 2, location: ['East'] }
]

// The same for every server. Limits the project may read from the environment
// are raised so that they do not cap the load; unknown variables are ignored.
const SERVER_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  NODE_ENV: 'production',
  ALERT_INTERVAL_MS: '0',
  LOG_LEVEL: 'warn',
  WS_MAX_CONNECTIONS: '20000',
  // Every load client comes from one loopback address.
  WS_MAX_CONNECTIONS_PER_ADDRESS: '20000',
  WS_HEARTBEAT_MS: '3600000',
  RATE_LIMIT_MAX: '1000000000'
}

const CONNECT = { concurrency: 200, timeoutMs: 15_000 }

// POST /alerts against two bare Fastify routes with the same schema: one with
// a logger at the project's level, as the project runs, and one without any
// logger, the floor a route with this schema cannot beat.
const INGEST_TARGETS: Target[] = ['project', 'bare-fastify', 'bare-fastify-no-logger', 'reference']

function findRoot (from: string): string {
  let dir = from
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'server.ts'))) {
    const up = path.dirname(dir)
    if (up === dir) throw new Error(`no project root above ${from}`)
    dir = up
  }
  return dir
}

const ROOT = findRoot(__dirname)
const RESULTS = path.join(ROOT, 'bench', 'results')
const SCRIPTS: Record<Target, { script: string, args: string[] }> = {
  project: { script: path.join(ROOT, 'dist', 'server.js'), args: [] },
  'project-sqlite': { script: path.join(ROOT, 'dist', 'server.js'), args: [] },
  'project-notify': { script: path.join(ROOT, 'dist', 'server.js'), args: [] },
  reference: { script: path.join(__dirname, 'reference-server.js'), args: [] },
  'bare-fastify': { script: path.join(__dirname, 'bare-fastify.js'), args: [] },
  'bare-fastify-no-logger': { script: path.join(__dirname, 'bare-fastify.js'), args: ['--no-logger'] }
}

const STORES = ['memory', 'sqlite'] as const
type Store = typeof STORES[number]

interface Options { quick: boolean, rounds: number | undefined, only: ScenarioName[] | undefined, pin: boolean, cpuProf: boolean, out: string | undefined, connections: number | undefined, stores: Store[], synchronous: string | undefined, notify: boolean }

function parseArgs (argv: string[]): Options {
  const opts: Options = { quick: false, rounds: undefined, only: undefined, pin: true, cpuProf: false, out: undefined, connections: undefined, stores: [...STORES], synchronous: undefined, notify: true }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg ?? ''} needs a value`)
      return v
    }
    if (arg === '--quick') opts.quick = true
    else if (arg === '--no-pin') opts.pin = false
    else if (arg === '--cpu-prof') opts.cpuProf = true
    else if (arg === '--no-notify') opts.notify = false
    else if (arg === '--rounds') opts.rounds = Math.max(1, Number.parseInt(value(), 10) || 1)
    else if (arg === '--out') opts.out = value()
    else if (arg === '--connections') opts.connections = Math.max(1, Number.parseInt(value(), 10) || 1)
    else if (arg === '--synchronous') opts.synchronous = value()
    else if (arg === '--stores') {
      opts.stores = value().split(',').map((s) => s.trim()) as Store[]
      const unknown = opts.stores.filter((s) => !STORES.includes(s))
      if (unknown.length > 0) throw new Error(`unknown store ${unknown.join(', ')}; pick from ${STORES.join(', ')}`)
    } else if (arg === '--only') {
      opts.only = value().split(',').map((s) => s.trim()) as ScenarioName[]
      const unknown = opts.only.filter((s) => !SCENARIOS.includes(s))
      if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; pick from ${SCENARIOS.join(', ')}`)
    } else throw new Error(`unknown option ${arg ?? ''}; see the top of bench/runner.ts`)
  }
  return opts
}

/** `node args`, behind `taskset -c N` when pinned (taskset execs node: the pid stays node's). */
function command (pin: string[], nodeArgs: string[]): { cmd: string, args: string[] } {
  const [first, ...rest] = pin
  return first === undefined
    ? { cmd: process.execPath, args: nodeArgs }
    : { cmd: first, args: [...rest, process.execPath, ...nodeArgs] }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function log (line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

/** The load generator child, driven one command at a time over IPC. */
class Loadgen {
  private readonly child: ChildProcess
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()

  constructor (pin: string[], nodeArgs: string[]) {
    const { cmd, args } = command(pin, [...nodeArgs, path.join(__dirname, 'loadgen.js')])
    this.child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if (reply.ok) waiter?.resolve(reply.result)
      else waiter?.reject(new Error(`load generator: ${reply.error}`))
    })
    this.child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load generator exited with ${String(code)}`))
      this.pending.clear()
    })
  }

  async call<C extends CommandName> (cmd: C, args: Commands[C]['args']): Promise<Commands[C]['result']> {
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.send({ id, cmd, args })
    })
  }

  get pid (): number { return this.child.pid ?? -1 }

  stop (): void {
    if (this.child.connected) this.child.disconnect()
  }
}

let clockTicks = 100
let current: ServerProcess | undefined

// How long the notification benchmark's webhook takes to answer.
const SLOW_RECEIVER_MS = 1000

/**
 * The webhook receiver of `project-notify`: on loopback, in the runner's
 * process, answering every POST after a second. Counts what it was sent.
 */
class SlowReceiver {
  requests = 0
  private readonly server: Server
  url = ''

  private constructor () {
    this.server = createHttpServer((req, res) => {
      this.requests++
      req.resume()
      setTimeout(() => res.end('ok'), SLOW_RECEIVER_MS)
    })
  }

  static async start (): Promise<SlowReceiver> {
    const receiver = new SlowReceiver()
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve))
    const address = receiver.server.address()
    if (address === null || typeof address === 'string') throw new Error('the slow receiver has no port')
    receiver.url = `http://127.0.0.1:${address.port}/hook`
    return receiver
  }

  /** A NOTIFY_FILE with three routes that match every alert, all to this receiver. */
  notifyFile (dir: string): string {
    const file = path.join(dir, 'notify.yml')
    writeFileSync(file, [
      'receivers:',
      `  slow: { webhook: { url: "${this.url}" } }`,
      'routes:',
      '  - to: slow',
      '  - match: { min_severity: info }',
      '    to: slow',
      '  - match: { state: open }',
      '    on: [raised, repeated]',
      '    to: slow',
      ''
    ].join('\n'))
    return file
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

let slowReceiver: SlowReceiver | undefined
let notifyFile = ''

/** One server under test, in its own process. */
class ServerProcess {
  private output = ''

  private constructor (readonly target: Target, readonly child: ChildProcess, readonly port: number) {
    const keep = (chunk: Buffer): void => { this.output = (this.output + chunk.toString()).slice(-8192) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
  }

  /** The SQLite server's data directory: a fresh one per start, removed at stop. */
  private dataDir: string | undefined

  static async start (target: Target, pin: string[], nodeArgs: string[], env: Record<string, string>): Promise<ServerProcess> {
    const port = await freePort()
    const { cmd, args } = command(pin, [...nodeArgs, SCRIPTS[target].script, ...SCRIPTS[target].args])
    const dataDir = target === 'project-sqlite' ? mkdtempSync(path.join(os.tmpdir(), 'alert-bench-')) : undefined
    const store = dataDir === undefined ? { STORE: 'memory' } : { STORE: 'sqlite', DATA_DIR: dataDir }
    const notify = target === 'project-notify' ? { NOTIFY_FILE: notifyFile } : {}
    // A clean environment: the same variables for every server, nothing inherited from npm.
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, ...store, ...notify, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const server = new ServerProcess(target, child, port)
    server.dataDir = dataDir
    current = server
    await server.ready()
    return server
  }

  get pid (): number { return this.child.pid ?? -1 }

  private async ready (): Promise<void> {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.target} exited before it was ready: ${this.output.trim()}`)
      }
      if (await answers(this.port)) return
      await sleep(50)
    }
    throw new Error(`${this.target} not ready after 30 s: ${this.output.trim()}`)
  }

  /** Resident set size now, from /proc (what the kernel reports, nothing forced). */
  rssKiB (): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
  }

  /** User + system CPU seconds used so far. */
  cpuSeconds (): number {
    return processTicks(this.pid) / clockTicks
  }

  alive (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  async stop (): Promise<void> {
    if (current === this) current = undefined
    if (!this.alive()) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    if (this.dataDir !== undefined) rmSync(this.dataDir, { recursive: true, force: true })
  }
}

/** User + system CPU ticks a process has used. */
function processTicks (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

/** Busy CPU ticks of the whole machine, every core (user, nice, system, irq, softirq, steal). */
function machineBusyTicks (): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (f[i] ?? 0), 0)
}

interface Snapshot { ns: bigint, busy: number, ours: number }

/** Machine-wide busy ticks, and those of the benchmark's own processes. */
function snapshot (pids: number[]): Snapshot {
  const runner = process.cpuUsage()
  const ours = pids.reduce((sum, pid) => sum + processTicks(pid), 0) + (runner.user + runner.system) / 1e6 * clockTicks
  return { ns: process.hrtime.bigint(), busy: machineBusyTicks(), ours }
}

/** CPU used by every other process on the machine between two snapshots, in % of one core. */
function otherCpuPct (a: Snapshot, b: Snapshot): number {
  const wall = Number(b.ns - a.ns) / 1e9
  const other = (b.busy - a.busy) - (b.ours - a.ours)
  return wall > 0 ? Math.max(0, Math.round(100 * other / clockTicks / wall)) : 0
}

// Other work on the machine (builds, tests) skews a run: each run waits, within
// limits, until it is quiet, and records how busy the machine was during the run.
const QUIET_PCT = 25
const QUIET_MAX_MS = 20_000
let quietBudgetMs = 180_000
// A run during which they used this much is repeated once, while the whole
// benchmark is younger than RETRY_BEFORE_MS, and the quieter run counts.
const BUSY_PCT = 50
const RETRY_BEFORE_MS = 9 * 60_000

async function waitForQuiet (pids: number[]): Promise<number> {
  if (quietBudgetMs <= 0) return 0
  const started = Date.now()
  for (;;) {
    const a = snapshot(pids)
    await sleep(500)
    const other = otherCpuPct(a, snapshot(pids))
    const waited = Date.now() - started
    if (other < QUIET_PCT || waited >= QUIET_MAX_MS || waited >= quietBudgetMs) {
      quietBudgetMs -= waited
      if (waited > 1000) log(`  waited ${(waited / 1000).toFixed(1)} s for other processes to quiet down (now ${other}% of a core)`)
      return waited
    }
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

/** True once anything answers HTTP on the port. */
async function answers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
  })
}

/** RSS once it stopped moving (less than 128 KiB over a second), or after 8 s. */
async function settledRss (server: ServerProcess): Promise<number> {
  let previous = server.rssKiB()
  let stableSince = Date.now()
  const deadline = Date.now() + 8000
  while (Date.now() < deadline && Date.now() - stableSince < 1000) {
    await sleep(250)
    const now = server.rssKiB()
    if (Math.abs(now - previous) > 128) stableSince = Date.now()
    previous = now
  }
  return previous
}

/** Samples RSS every 50 ms until stopped; returns the peak. */
function rssPeak (server: ServerProcess): () => number {
  let peak = server.rssKiB()
  const timer = setInterval(() => {
    try { peak = Math.max(peak, server.rssKiB()) } catch { /* the process is gone */ }
  }, 50)
  return () => {
    clearInterval(timer)
    try { peak = Math.max(peak, server.rssKiB()) } catch { /* the process is gone */ }
    return peak
  }
}

/** Runs `fn` and reports the server's CPU use over it, in % of one core. */
async function withCpu<T> (server: ServerProcess, fn: () => Promise<T>): Promise<{ value: T, cpuPct: number }> {
  const cpu0 = server.cpuSeconds()
  const t0 = process.hrtime.bigint()
  const value = await fn()
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  return { value, cpuPct: wall > 0 ? Math.round(100 * (server.cpuSeconds() - cpu0) / wall) : 0 }
}

interface Context {
  settings: Settings
  loadgen: Loadgen
  serverPin: string[]
  projectNodeArgs: string[]
}

/** Starts the target, runs `fn` against it, stops it; notes how busy the rest of the machine was meanwhile. */
async function withServer<T> (ctx: Context, target: Target, fn: (server: ServerProcess) => Promise<T>): Promise<T & { background: Background }> {
  const waitedMs = await waitForQuiet([ctx.loadgen.pid])
  const server = await ServerProcess.start(target, ctx.serverPin, target.startsWith('project') ? ctx.projectNodeArgs : [], ctx.settings.serverEnv)
  try {
    const pids = [ctx.loadgen.pid, server.pid]
    const before = snapshot(pids)
    const value = await fn(server)
    const otherPct = otherCpuPct(before, snapshot(pids))
    if (!server.alive()) throw new Error(`${target} died during the run`)
    if (otherPct >= QUIET_PCT) log(`  other processes used ${otherPct}% of a core during this run`)
    return { ...value, background: { otherCpuPct: otherPct, waitedForQuietMs: waitedMs } }
  } finally {
    await server.stop()
    await ctx.loadgen.call('disconnect', {})
  }
}

async function connect (ctx: Context, server: ServerProcess, count: number): Promise<Commands['connect']['result']> {
  const result = await ctx.loadgen.call('connect', { port: server.port, count, ...CONNECT })
  if (result.failed > 0) log(`  ${server.target}: ${result.failed} of ${count} connections failed: ${JSON.stringify(result.failures)}`)
  return result
}

async function latency (ctx: Context, target: Target, round: number): Promise<LatencyRun> {
  const { sizes, alerts, warmup } = ctx.settings.latency
  return await withServer(ctx, target, async (server) => {
    const steps: LatencyRun['steps'] = []
    let connected = 0
    for (const clients of sizes) {
      const c = await connect(ctx, server, clients - connected)
      connected = clients
      await ctx.loadgen.call('single', { port: server.port, alerts: warmup, timeoutMs: 10_000 })
      const { value: result, cpuPct } = await withCpu(server, async () =>
        await ctx.loadgen.call('single', { port: server.port, alerts, timeoutMs: 10_000 }))
      steps.push({ clients, connect: c, result, serverCpuPct: cpuPct })
      log(`latency r${round} ${target} ${clients} clients (${c.open} open): last p50 ${percentile(result.lastMs, 50)} ms, p99 ${percentile(result.lastMs, 99)} ms; ` +
        `first p50 ${percentile(result.firstMs, 50)} ms; server ${cpuPct}% CPU, loadgen ${Math.round(result.loadgenCpuPct)}%` +
        (result.incomplete > 0 ? `; ${result.incomplete} alerts incomplete` : ''))
    }
    return { target, round, steps }
  })
}

async function burst (ctx: Context, target: Target, round: number): Promise<BurstRun> {
  const { clients, alerts, inflight, warmup } = ctx.settings.burst
  return await withServer(ctx, target, async (server) => {
    const c = await connect(ctx, server, clients)
    await ctx.loadgen.call('burst', { port: server.port, alerts: warmup, inflight, slowEvery: 0, pad: false, idleMs: 2000, limitMs: 30_000 })
    const rssBeforeKiB = server.rssKiB()
    const peak = rssPeak(server)
    const { value: result, cpuPct } = await withCpu(server, async () =>
      await ctx.loadgen.call('burst', { port: server.port, alerts, inflight, slowEvery: 0, pad: false, idleMs: 3000, limitMs: 120_000 }))
    const rssPeakKiB = peak()
    log(`burst r${round} ${target}: ${result.deliveriesPerSec.toLocaleString('en-US')} deliveries/s, drain ${result.drainMs} ms, ` +
      `${result.deliveries}/${result.expected} delivered, ${result.integrity.clientsComplete}/${result.integrity.clients} complete; server ${cpuPct}% CPU, loadgen ${Math.round(result.loadgenCpuPct)}%` +
      (target === 'project-notify' ? `; the webhook got ${slowReceiver?.requests ?? 0} notifications so far` : ''))
    return { target, round, connect: c, result, rssBeforeKiB, rssPeakKiB, serverCpuPct: cpuPct }
  })
}

async function memory (ctx: Context, target: Target, round: number): Promise<MemoryRun> {
  const { sizes } = ctx.settings.memory
  return await withServer(ctx, target, async (server) => {
    // Warm the upgrade and broadcast paths once, so the baseline includes the code they load.
    await connect(ctx, server, 100)
    await ctx.loadgen.call('single', { port: server.port, alerts: 5, timeoutMs: 10_000 })
    await ctx.loadgen.call('disconnect', {})
    const baselineKiB = await settledRss(server)
    const steps: MemoryRun['steps'] = []
    let connected = 0
    for (const clients of sizes) {
      const c = await connect(ctx, server, clients - connected)
      connected = clients
      const rssKiB = await settledRss(server)
      const bytesPerConnection = Math.round((rssKiB - baselineKiB) * 1024 / c.open)
      steps.push({ clients, open: c.open, rssKiB, bytesPerConnection })
      log(`memory r${round} ${target} ${clients} idle: RSS ${baselineKiB} → ${rssKiB} KiB = ${(bytesPerConnection / 1024).toFixed(2)} KiB per connection`)
    }
    return { target, round, baselineKiB, steps }
  })
}

async function ingest (ctx: Context, target: Target, round: number): Promise<IngestRun> {
  const { connections, durationS, warmupS } = ctx.settings.ingest
  return await withServer(ctx, target, async (server) => {
    // The CPU is measured over the warm-up too; at full load both are ~100%.
    const { value: result, cpuPct } = await withCpu(server, async () =>
      await ctx.loadgen.call('ingest', { port: server.port, connections, durationS, warmupS }))
    log(`ingest r${round} ${target}: ${Math.round(result.requestsPerSec).toLocaleString('en-US')} req/s, p99 ${result.latencyP99Ms} ms, ` +
      `${result.non2xx} non-2xx, ${result.errors} errors; server ${cpuPct}% CPU`)
    return { target, round, result, serverCpuPct: cpuPct }
  })
}

async function slow (ctx: Context, target: Target, round: number, withSlow: boolean): Promise<SlowRun> {
  const { clients, slowEvery, alerts, inflight } = ctx.settings.slow
  return await withServer(ctx, target, async (server) => {
    const c = await connect(ctx, server, clients)
    await ctx.loadgen.call('burst', { port: server.port, alerts: 50, inflight, slowEvery: 0, pad: true, idleMs: 2000, limitMs: 30_000 })
    const rssBeforeKiB = server.rssKiB()
    const peak = rssPeak(server)
    const { value: result, cpuPct } = await withCpu(server, async () =>
      await ctx.loadgen.call('burst', { port: server.port, alerts, inflight, slowEvery: withSlow ? slowEvery : 0, pad: true, idleMs: 3000, limitMs: 180_000 }))
    const rssPeakKiB = peak()
    let outcome: SlowRun['outcome']
    if (withSlow) {
      // Stay stopped a moment past the burst, then read again and see what the server did with them.
      await sleep(1000)
      outcome = await ctx.loadgen.call('releaseSlow', { limitMs: 30_000 })
    }
    const endings = outcome === undefined ? '' : `; slow clients: ${[...new Set(outcome.clients.map((s) => s.ending))].join(', ')}, median ${median(outcome.clients.map((s) => s.received))} alerts received`
    log(`slow r${round} ${target} ${withSlow ? `${result.slowClients} slow` : 'none slow'}: reading clients p99 ${percentile(result.lastMs, 99)} ms, ` +
      `${result.deliveriesPerSec.toLocaleString('en-US')} deliveries/s, RSS ${rssBeforeKiB} → peak ${rssPeakKiB} KiB${endings}`)
    return { target, round, withSlow, connect: c, result, rssBeforeKiB, rssPeakKiB, outcome, serverCpuPct: cpuPct }
  })
}

/** The project only: the reference server has no filters (its unfiltered burst is the yardstick). */
async function filteredBurst (ctx: Context, round: number): Promise<FilteredRun> {
  const { wsClients, sseClients, alerts, inflight, warmup } = ctx.settings.filtered
  return await withServer(ctx, 'project', async (server) => {
    const monitor = await connect(ctx, server, 1)
    let opened = monitor.open
    for (let f = 0; f < FILTERS.length; f++) {
      const spec = FILTERS[f] as FilterSpec
      const ws = Math.floor(wsClients / FILTERS.length) + (f < wsClients % FILTERS.length ? 1 : 0)
      const sse = Math.floor(sseClients / FILTERS.length) + (f < sseClients % FILTERS.length ? 1 : 0)
      if (ws > 0) {
        const r = await ctx.loadgen.call('connect', { port: server.port, count: ws, ...CONNECT, path: `/ws?${spec.query}`, tag: f })
        if (r.failed > 0) log(`  ${r.failed} of ${ws} WebSockets (${spec.query}) failed: ${JSON.stringify(r.failures)}`)
        opened = r.open
      }
      if (sse > 0) {
        const r = await ctx.loadgen.call('connect', { port: server.port, count: sse, ...CONNECT, path: `/events?${spec.query}`, transport: 'sse', tag: f })
        if (r.failed > 0) log(`  ${r.failed} of ${sse} streams (${spec.query}) failed: ${JSON.stringify(r.failures)}`)
        opened = r.open
      }
    }
    await ctx.loadgen.call('filtered', { port: server.port, alerts: warmup, inflight, idleMs: 2000, limitMs: 30_000, filters: FILTERS })
    const rssBeforeKiB = server.rssKiB()
    const peak = rssPeak(server)
    const { value: result, cpuPct } = await withCpu(server, async () =>
      await ctx.loadgen.call('filtered', { port: server.port, alerts, inflight, idleMs: 3000, limitMs: 120_000, filters: FILTERS }))
    const rssPeakKiB = peak()
    if (!result.monitorComplete) log('  the unfiltered monitor did not get every alert: no stream can be checked against the publish order')
    log(`filtered r${round} project (${result.ws} WebSockets, ${result.sse} SSE, ${FILTERS.length} filters + 1 unfiltered): ${result.deliveriesPerSec.toLocaleString('en-US')} deliveries/s, ` +
      `drain ${result.drainMs} ms, ${result.deliveries}/${result.expected} delivered, ${result.clientsExact}/${result.clientsExact + result.clientsWrong} exact slices; server ${cpuPct}% CPU, loadgen ${Math.round(result.loadgenCpuPct)}%`)
    return { target: 'project', round, open: opened, result, rssBeforeKiB, rssPeakKiB, serverCpuPct: cpuPct }
  })
}

function fdLimit (): string {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  return line?.split(/\s{2,}/)[1] ?? 'unknown'
}

function gitInfo (): Meta['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirtyFiles = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n').map((l) => l.slice(3).trim()).filter((f) => f !== '' && !f.startsWith('bench/'))
    return { commit, dirtyFiles }
  } catch {
    return { commit: 'unknown', dirtyFiles: [] }
  }
}

async function main (): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  if (path.extname(__filename) !== '.js') throw new Error('run the compiled benchmark: npm run bench')
  for (const [target, { script }] of Object.entries(SCRIPTS)) {
    if (!existsSync(script)) throw new Error(`${script} is missing (${target}); npm run bench builds it`)
  }
  const base = opts.quick ? QUICK : FULL
  const scenarios = opts.only ?? SCENARIOS
  const rounds = opts.rounds ?? (opts.quick ? 1 : 2)
  const settings: Settings = {
    ...base,
    slow: { ...base.slow, rounds: opts.rounds ?? base.slow.rounds },
    ingest: { ...base.ingest, connections: opts.connections ?? base.ingest.connections },
    quick: opts.quick,
    rounds,
    scenarios,
    serverEnv: opts.synchronous === undefined ? SERVER_ENV : { ...SERVER_ENV, SQLITE_SYNCHRONOUS: opts.synchronous }
  }
  const name = opts.out ?? (opts.quick ? 'quick' : opts.only === undefined ? 'latest' : 'partial')

  try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100 } catch { /* keep 100 */ }
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p))
  const pinned = opts.pin && taskset !== undefined && os.cpus().length >= 2
  const serverPin = pinned ? [taskset as string, '-c', '0'] : []
  const loadgenPin = pinned ? [taskset as string, '-c', '1'] : []
  const needed = Math.max(...settings.latency.sizes, ...settings.memory.sizes) + 200
  if (Number(fdLimit()) < needed) log(`warning: open-file limit ${fdLimit()} is below the ${needed} the largest step needs`)
  if (existsSync(path.join(ROOT, '.env'))) log('warning: .env exists in the project root; the project server reads it for variables not set here')

  const profile = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.join(RESULTS, 'profiles')] : []
  const loadgen = new Loadgen(loadgenPin, profile)
  const ctx: Context = { settings, loadgen, serverPin, projectNodeArgs: profile }
  const stopAll = (): void => {
    void current?.stop()
    loadgen.stop()
    process.exit(130)
  }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)

  const started = Date.now()
  // A smoke run neither waits for quiet nor repeats runs.
  const retryUntil = opts.quick ? 0 : started + RETRY_BEFORE_MS
  if (opts.quick) quietBudgetMs = 0
  // Read before the first run: the tree others edit may change while this runs.
  const git = gitInfo()
  log(`${name} run: ${scenarios.join(', ')}; ${settings.rounds} round(s); ${pinned ? 'server on core 0, load generator on core 1' : 'not pinned'}`)
  const runs: Runs = { latency: [], burst: [], memory: [], ingest: [], slow: [], filtered: [] }
  const problems: Problems = { failures: [], discarded: [] }
  /** Runs one measurement into `list`; a failure is recorded and the benchmark goes on. */
  async function measure<R extends { background: Background }> (what: string, list: R[], fn: () => Promise<R>): Promise<void> {
    try {
      let run = await fn()
      if (run.background.otherCpuPct >= BUSY_PCT && Date.now() < retryUntil) {
        log(`  repeating ${what}: other processes used ${run.background.otherCpuPct}% of a core during it`)
        try {
          const again = await fn()
          const quieter = again.background.otherCpuPct < run.background.otherCpuPct
          problems.discarded.push({ what, run: quieter ? run : again })
          if (quieter) run = again
        } catch (err) {
          log(`  the repeat of ${what} failed (${(err as Error).message}); keeping the first run`)
        }
      }
      list.push(run)
    } catch (err) {
      problems.failures.push(`${what}: ${(err as Error).message}`)
      log(`FAILED ${what}: ${(err as Error).message}`)
    }
  }
  const pair: Target[] = ['project', 'reference']
  // The project on SQLite beside it, for latency, burst and ingest: the store as a dimension of the same run.
  const stored: Target[] = opts.stores.includes('sqlite') ? [...(opts.stores.includes('memory') ? pair : ['reference' as const]), 'project-sqlite'] : pair
  // And with notifications, for latency and burst: three routes to a webhook that answers after a second.
  const notifyDir = opts.notify ? mkdtempSync(path.join(os.tmpdir(), 'alert-bench-notify-')) : undefined
  if (notifyDir !== undefined) {
    slowReceiver = await SlowReceiver.start()
    notifyFile = slowReceiver.notifyFile(notifyDir)
  }
  const fanned: Target[] = opts.notify ? [...stored, 'project-notify'] : stored
  for (const scenario of scenarios) {
    const scenarioRounds = scenario === 'slow' ? settings.slow.rounds : settings.rounds
    for (let round = 1; round <= scenarioRounds; round++) {
      switch (scenario) {
        case 'latency':
          for (const t of fanned) await measure(`latency r${round} ${t}`, runs.latency, async () => await latency(ctx, t, round))
          break
        case 'burst':
          for (const t of fanned) await measure(`burst r${round} ${t}`, runs.burst, async () => await burst(ctx, t, round))
          break
        case 'memory':
          for (const t of pair) await measure(`memory r${round} ${t}`, runs.memory, async () => await memory(ctx, t, round))
          break
        case 'ingest':
          for (const t of opts.stores.includes('sqlite') ? [...INGEST_TARGETS, 'project-sqlite' as const] : INGEST_TARGETS) {
            await measure(`ingest r${round} ${t}`, runs.ingest, async () => await ingest(ctx, t, round))
          }
          break
        case 'filtered':
          await measure(`filtered r${round} project`, runs.filtered, async () => await filteredBurst(ctx, round))
          break
        case 'slow':
          for (const withSlow of [false, true]) {
            for (const t of pair) await measure(`slow r${round} ${t}${withSlow ? ' with slow clients' : ''}`, runs.slow, async () => await slow(ctx, t, round, withSlow))
          }
          break
      }
    }
  }
  loadgen.stop()
  await slowReceiver?.close()
  if (notifyDir !== undefined) rmSync(notifyDir, { recursive: true, force: true })

  const cpus = os.cpus()
  const meta: Meta = {
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    fdLimit: fdLimit(),
    taskset: pinned,
    pinning: pinned ? 'server pinned to core 0 and load generator to core 1 (taskset)' : 'no pinning',
    runtime: 'all servers compiled by tsc and run with plain node',
    git
  }
  const out = write(RESULTS, name, meta, settings, runs, problems)
  const { failures } = problems
  if (failures.length > 0) log(`${failures.length} run(s) failed:\n  ${failures.join('\n  ')}`)
  process.stdout.write(`\n${out.text}\n`)
  log(`done in ${meta.durationS} s; wrote ${path.relative(ROOT, out.json)} and ${path.relative(ROOT, out.md)}`)
  if (failures.length > 0) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  void current?.stop()
  process.exit(1)
})
