import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { nowNs, openClient, type LeanClient } from './lean-client'
import { openStreamReader, type StreamReader } from './stream-reader'

/**
 * The load generator process. The runner starts it (pinned to its own core) and
 * drives it over IPC, one command at a time: open WebSocket clients, post
 * alerts and time their delivery, run autocannon. It only ever connects to
 * 127.0.0.1, and every command is bounded in count and time.
 */

const HOST = '127.0.0.1'

// Every benchmark alert's message starts with "bench#<seq>#": the client finds the
// sequence number in the raw frame without parsing the JSON.
const MARKER = Buffer.from('bench#')
const MESSAGE_MAX = 1000
const LOCATION_MAX = 200

export interface ConnectArgs {
  port: number
  count: number
  concurrency: number
  timeoutMs: number
  /** Request path, query included (default /ws). */
  path?: string
  /** ws (default): lean WebSocket clients; sse: raw HTTP readers of GET /events. */
  transport?: 'ws' | 'sse'
  /** Which filter of a filtered run these clients subscribed with (-1, the default: none). */
  tag?: number
}
export interface ConnectResult { opened: number, failed: number, failures: Record<string, number>, ms: number, open: number }

export interface SingleArgs { port: number, alerts: number, timeoutMs: number }
export interface SingleResult {
  clients: number
  /** Per alert, ms from POST sent to the first / last client receiving it, and to the POST response. */
  firstMs: number[]
  lastMs: number[]
  responseMs: number[]
  /** Alerts not received by every client within the timeout. */
  incomplete: number
  non200: number
  /** Deliveries that came out of order or twice on a client. */
  disorder: number
  /** Frames that were not alerts of this run (e.g. error frames). */
  otherFrames: number
  endedDuringRun: number
  loadgenCpuPct: number
  wallMs: number
}

export interface BurstArgs {
  port: number
  alerts: number
  inflight: number
  /** Every `slowEvery`-th client stops reading for the burst; 0 for none. */
  slowEvery: number
  /** Pad message and location to their maximum lengths (about 1.3 KB frames). */
  pad: boolean
  /** The burst ends once nothing arrived for this long after the last response... */
  idleMs: number
  /** ...or at this limit. */
  limitMs: number
}
export interface Integrity {
  clients: number
  /** Clients that got every alert, once each, in the same order as every other such client. */
  clientsComplete: number
  missing: number
  duplicates: number
  /** Clients whose order differs from the first complete client's. */
  clientsOutOfOrder: number
}
export interface BurstResult {
  alerts: number
  fastClients: number
  slowClients: number
  frameBytes: number
  deliveries: number
  expected: number
  /** First POST sent → last delivery to a reading client. */
  drainMs: number
  deliveriesPerSec: number
  postsMs: number
  non200: number
  firstMs: number[]
  lastMs: number[]
  integrity: Integrity
  /** Deliveries the slow clients had when the burst ended. */
  slowReceived: number[]
  /** Frames that were not alerts of this run (e.g. error frames). */
  otherFrames: number
  endedDuringRun: number
  loadgenCpuPct: number
}

export interface SlowOutcome {
  /** Per slow client: alerts received in all, and how its connection stood at the end. */
  clients: Array<{ received: number, ending: string, closeCode?: number }>
  waitedMs: number
}

/**
 * A filter of the filtered burst, as the loadgen checks it: alert i of a run has
 * severity FILTER_SEVERITIES[i % 3] and location FILTER_LOCATIONS[floor(i / 3) % 4].
 */
export interface FilterSpec { query: string, severity?: string[], minSeverity?: number, location?: string[] }
export const FILTER_SEVERITIES = ['info', 'warning', 'critical']
export const FILTER_LOCATIONS = ['North', 'South', 'East', 'West']

export interface FilteredArgs { port: number, alerts: number, inflight: number, idleMs: number, limitMs: number, filters: FilterSpec[] }
export interface FilteredResult {
  alerts: number
  /** Subscribers by transport (the unfiltered monitor included in ws). */
  ws: number
  sse: number
  deliveries: number
  expected: number
  drainMs: number
  deliveriesPerSec: number
  postsMs: number
  non200: number
  lastMs: number[]
  /** Subscribers whose stream is exactly the monitor's (the publish order) with their filter applied. */
  clientsExact: number
  clientsWrong: number
  /** Over all subscribers: events expected and not received, and received though not expected or twice. */
  missing: number
  extra: number
  /** The unfiltered monitor got every alert once. */
  monitorComplete: boolean
  otherFrames: number
  endedDuringRun: number
  loadgenCpuPct: number
}

export interface IngestArgs { port: number, connections: number, durationS: number, warmupS: number }
export interface IngestResult {
  requestsPerSec: number
  total: number
  latencyP50Ms: number
  latencyP99Ms: number
  non2xx: number
  errors: number
  durationS: number
}

/** Command name → argument and result types, shared with the runner. */
export interface Commands {
  connect: { args: ConnectArgs, result: ConnectResult }
  disconnect: { args: Record<string, never>, result: { closed: number } }
  single: { args: SingleArgs, result: SingleResult }
  burst: { args: BurstArgs, result: BurstResult }
  filtered: { args: FilteredArgs, result: FilteredResult }
  releaseSlow: { args: { limitMs: number }, result: SlowOutcome }
  ingest: { args: IngestArgs, result: IngestResult }
}
export type CommandName = keyof Commands
export interface Request { id: number, cmd: CommandName, args: unknown }
export type Reply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

interface Conn {
  client: LeanClient | undefined
  /** Set instead of `client` for an SSE reader. */
  reader?: StreamReader
  /** The filter it subscribed with (-1: none). */
  tag: number
  open: boolean
  slow: boolean
  /** Alert indexes in arrival order (burst only), and how many arrived. */
  seqs: Int32Array | undefined
  n: number
  /** Index of the previous alert received, to spot repeats and reordering. */
  last: number
  disorder: number
  received: number
}

/** Delivery bookkeeping for one run of alerts, indexed by alert number within the run. */
class Phase {
  readonly first: Float64Array
  readonly last: Float64Array
  readonly count: Int32Array
  readonly sent: Float64Array
  readonly responded: Float64Array
  delivered = 0
  /** Deliveries to reading clients that complete the run (burst). */
  expected = Infinity
  lastDeliveryNs = 0
  /** Payload size of the last alert frame seen. */
  frameBytes = 0
  /** Frames of this server that are not alerts of this run. */
  other = 0
  /** The alert a sequential run is waiting on (-1: none). */
  waitIdx = -1
  /** Called when the awaited alert has reached every reading client, the run is complete, or a client left. */
  onProgress: (() => void) | undefined

  constructor (readonly base: number, readonly n: number) {
    this.first = new Float64Array(n).fill(Infinity)
    this.last = new Float64Array(n)
    this.count = new Int32Array(n)
    this.sent = new Float64Array(n)
    this.responded = new Float64Array(n)
  }
}

const conns: Conn[] = []
let openFast = 0
let phase: Phase | undefined
let nextSeq = 0
let agent = new Agent({ keepAlive: true, maxSockets: 1 })

function onText (conn: Conn, buf: Buffer, start: number, end: number, t: number): void {
  const p = phase
  if (p === undefined) return
  const m = buf.indexOf(MARKER, start)
  if (m < 0 || m + MARKER.length >= end) { p.other++; return }
  let i = m + MARKER.length
  let seq = 0
  for (let c = buf[i] as number; i < end && c >= 48 && c <= 57; c = buf[++i] as number) seq = seq * 10 + c - 48
  deliver(conn, p, seq, end - start, t)
}

/** The SSE record of a stream reader: the same marker, in its data line. */
function onRecord (conn: Conn, record: string, t: number): void {
  const p = phase
  if (p === undefined) return
  const m = record.indexOf('bench#')
  if (m < 0) { if (record.startsWith('id:') || record.startsWith('event:')) p.other++; return }
  deliver(conn, p, Number.parseInt(record.slice(m + 6), 10), record.length, t)
}

function deliver (conn: Conn, p: Phase, seq: number, bytes: number, t: number): void {
  const idx = seq - p.base
  if (idx < 0 || idx >= p.n) { p.other++; return }

  p.frameBytes = bytes
  conn.received++
  if (idx <= conn.last) conn.disorder++
  conn.last = idx
  if (conn.seqs !== undefined) {
    if (conn.n < conn.seqs.length) conn.seqs[conn.n] = idx
    conn.n++
  }
  if (conn.slow) return

  p.count[idx] = (p.count[idx] as number) + 1
  if (t < (p.first[idx] as number)) p.first[idx] = t
  if (t > (p.last[idx] as number)) p.last[idx] = t
  p.delivered++
  if (t > p.lastDeliveryNs) p.lastDeliveryNs = t
  if (p.delivered === p.expected || (p.waitIdx === idx && (p.count[idx] as number) >= openFast)) p.onProgress?.()
}

function onEnd (conn: Conn): void {
  if (!conn.open) return
  conn.open = false
  if (!conn.slow) {
    openFast--
    phase?.onProgress?.()
  }
}

/** The body of an alert; with `mixedIdx` (its index in a filtered run) its severity and location vary with it. */
function alertBody (seq: number, pad: boolean, mixedIdx = -1): string {
  const message = `bench#${seq}#`
  if (mixedIdx >= 0) return JSON.stringify({ message, location: FILTER_LOCATIONS[Math.floor(mixedIdx / 3) % 4], severity: FILTER_SEVERITIES[mixedIdx % 3] })
  return JSON.stringify(pad
    ? { message: message.padEnd(MESSAGE_MAX, 'x'), location: 'Bench'.padEnd(LOCATION_MAX, 'x') }
    : { message, location: 'Bench' })
}

/** Posts one alert; records when it was sent and when the response ended. */
async function post (port: number, p: Phase, idx: number, pad: boolean, mixed = false): Promise<number> {
  const body = alertBody(p.base + idx, pad, mixed ? idx : -1)
  return await new Promise((resolve, reject) => {
    const req = request({
      host: HOST,
      port,
      path: '/alerts',
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    }, (res) => {
      res.resume()
      res.on('end', () => {
        p.responded[idx] = nowNs()
        resolve(res.statusCode ?? 0)
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error('POST timed out')))
    req.on('error', reject)
    p.sent[idx] = nowNs()
    req.end(body)
  })
}

/** Starts a run of `n` alerts; deliveries are counted against it until the next run starts. */
function startPhase (n: number, track: boolean): Phase {
  const p = new Phase(nextSeq, n)
  nextSeq += n
  for (const conn of conns) {
    conn.last = -1
    conn.n = 0
    conn.disorder = 0
    conn.received = 0
    conn.seqs = track ? new Int32Array(n) : undefined
  }
  phase = p
  return p
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `done()` holds, re-checked on every delivery or client end and every 50 ms, or until `ms` passed. */
async function until (p: Phase, done: () => boolean, ms: number): Promise<boolean> {
  if (done()) return true
  return await new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      clearInterval(poll)
      p.onProgress = undefined
      resolve(ok)
    }
    const check = (): void => { if (done()) finish(true) }
    const timer = setTimeout(() => finish(done()), ms)
    const poll = setInterval(check, 50)
    p.onProgress = check
  })
}

function cpuPct (startCpu: NodeJS.CpuUsage, startNs: number): number {
  const cpu = process.cpuUsage(startCpu)
  const wallUs = (nowNs() - startNs) / 1000
  return wallUs > 0 ? 100 * (cpu.user + cpu.system) / wallUs : 0
}

const toMs = (ns: number): number => Math.round(ns / 1000) / 1000

async function connect ({ port, count, concurrency, timeoutMs, path = '/ws', transport = 'ws', tag = -1 }: ConnectArgs): Promise<ConnectResult> {
  const t0 = nowNs()
  const failures: Record<string, number> = {}
  let started = 0
  let opened = 0
  async function worker (): Promise<void> {
    while (started < count) {
      started++
      const conn: Conn = { client: undefined, tag, open: false, slow: false, seqs: undefined, n: 0, last: -1, disorder: 0, received: 0 }
      try {
        if (transport === 'sse') {
          conn.reader = await openStreamReader({ host: HOST, port, path, timeoutMs, onRecord: (record, t) => onRecord(conn, record, t), onEnd: () => onEnd(conn) })
          if (!conn.reader.open) throw new Error(conn.reader.ended ?? 'stream ended')
        } else {
          conn.client = await openClient({
            host: HOST,
            port,
            path,
            timeoutMs,
            onText: (_client, buf, start, end, t) => onText(conn, buf, start, end, t),
            onEnd: () => onEnd(conn)
          })
          // Already closed by the server between the 101 and now: not counted as open.
          if (!conn.client.open) throw new Error(conn.client.describeEnding())
        }
        conn.open = true
        openFast++
        conns.push(conn)
        opened++
      } catch (err) {
        const key = (err as Error).message
        failures[key] = (failures[key] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return { opened, failed: count - opened, failures, ms: toMs(nowNs() - t0), open: conns.filter((c) => c.open).length }
}

async function disconnect (): Promise<{ closed: number }> {
  const closing = conns.splice(0)
  for (const conn of closing) {
    conn.open = false
    conn.client?.destroy()
    conn.reader?.destroy()
  }
  openFast = 0
  phase = undefined
  agent.destroy()
  agent = new Agent({ keepAlive: true, maxSockets: 1 })
  // Let the 'close' events run before the next command opens sockets.
  await sleep(100)
  return { closed: closing.length }
}

async function single ({ port, alerts, timeoutMs }: SingleArgs): Promise<SingleResult> {
  agent.maxSockets = 1
  const p = startPhase(alerts, false)
  const clients = openFast
  const cpu0 = process.cpuUsage()
  const t0 = nowNs()
  let incomplete = 0
  let non200 = 0
  for (let i = 0; i < alerts; i++) {
    p.waitIdx = i
    const status = await post(port, p, i, false)
    if (status !== 200) non200++
    const complete = await until(p, () => (p.count[i] as number) >= openFast, timeoutMs)
    if (!complete) incomplete++
  }
  p.waitIdx = -1
  const fast = conns.filter((c) => !c.slow)
  return {
    clients,
    firstMs: Array.from(p.first, (t, i) => toMs(t - (p.sent[i] as number))),
    lastMs: Array.from(p.last, (t, i) => toMs(t - (p.sent[i] as number))),
    responseMs: Array.from(p.responded, (t, i) => toMs(t - (p.sent[i] as number))),
    incomplete,
    non200,
    disorder: fast.reduce((sum, c) => sum + c.disorder, 0),
    otherFrames: p.other,
    endedDuringRun: clients - openFast,
    loadgenCpuPct: cpuPct(cpu0, t0),
    wallMs: toMs(nowNs() - t0)
  }
}

function checkIntegrity (p: Phase, fast: Conn[]): Integrity {
  const seen = new Uint8Array(p.n)
  let canonical: Int32Array | undefined
  const result: Integrity = { clients: fast.length, clientsComplete: 0, missing: 0, duplicates: 0, clientsOutOfOrder: 0 }
  for (const conn of fast) {
    const seqs = conn.seqs as Int32Array
    const stored = Math.min(conn.n, seqs.length)
    seen.fill(0)
    let unique = 0
    for (let i = 0; i < stored; i++) {
      const idx = seqs[i] as number
      if (seen[idx] === 0) { seen[idx] = 1; unique++ }
    }
    const duplicates = conn.n - unique
    result.missing += p.n - unique
    result.duplicates += duplicates
    if (unique !== p.n || duplicates !== 0) continue
    canonical ??= seqs
    let same = true
    for (let i = 0; i < p.n; i++) if (seqs[i] !== canonical[i]) { same = false; break }
    if (same) result.clientsComplete++
    else result.clientsOutOfOrder++
  }
  return result
}

/**
 * Posts the phase's alerts, `inflight` at a time, then waits until every
 * expected delivery arrived or deliveries stopped coming for `idleMs`. The
 * drain runs from the first POST sent to the last delivery.
 */
async function postAndDrain (p: Phase, { port, alerts, inflight, pad, mixed, idleMs, limitMs }: { port: number, alerts: number, inflight: number, pad: boolean, mixed: boolean, idleMs: number, limitMs: number }): Promise<{ non200: number, postsDone: number, drainNs: number }> {
  agent.maxSockets = inflight
  let next = 0
  let non200 = 0
  async function poster (): Promise<void> {
    while (next < alerts) {
      const idx = next++
      if (await post(port, p, idx, pad, mixed) !== 200) non200++
    }
  }
  await Promise.all(Array.from({ length: Math.min(inflight, alerts) }, poster))
  const postsDone = nowNs()
  await until(p, () => p.delivered >= p.expected || nowNs() - Math.max(p.lastDeliveryNs, postsDone) > idleMs * 1e6, limitMs)
  const firstSent = p.sent.reduce((a, b) => Math.min(a, b), Infinity)
  return { non200, postsDone, drainNs: p.lastDeliveryNs - firstSent }
}

async function burst ({ port, alerts, inflight, slowEvery, pad, idleMs, limitMs }: BurstArgs): Promise<BurstResult> {
  const p = startPhase(alerts, true)
  for (let i = 0; i < conns.length; i++) {
    const conn = conns[i] as Conn
    if (slowEvery > 0 && i % slowEvery === Math.floor(slowEvery / 2) && conn.open) {
      conn.slow = true
      openFast--
      conn.client?.pause()
    }
  }
  const fast = conns.filter((c) => !c.slow)
  const slow = conns.filter((c) => c.slow)
  const fastClients = openFast
  const expected = alerts * fastClients
  p.expected = expected
  const cpu0 = process.cpuUsage()
  const t0 = nowNs()
  const { non200, postsDone, drainNs } = await postAndDrain(p, { port, alerts, inflight, pad, mixed: false, idleMs, limitMs })
  return {
    alerts,
    fastClients,
    slowClients: slow.length,
    frameBytes: p.frameBytes,
    deliveries: p.delivered,
    expected,
    drainMs: toMs(drainNs),
    deliveriesPerSec: drainNs > 0 ? Math.round(p.delivered / (drainNs / 1e9)) : 0,
    postsMs: toMs(postsDone - t0),
    non200,
    firstMs: Array.from(p.first, (t, i) => toMs(t - (p.sent[i] as number))),
    lastMs: Array.from(p.last, (t, i) => toMs(t - (p.sent[i] as number))),
    integrity: checkIntegrity(p, fast),
    slowReceived: slow.map((c) => c.received),
    otherFrames: p.other,
    endedDuringRun: fast.filter((c) => !c.open).length,
    loadgenCpuPct: cpuPct(cpu0, t0)
  }
}

const passes = (spec: FilterSpec, idx: number): boolean => {
  const severity = FILTER_SEVERITIES[idx % 3] as string
  const location = FILTER_LOCATIONS[Math.floor(idx / 3) % 4] as string
  return (spec.severity === undefined || spec.severity.includes(severity)) &&
    (spec.minSeverity === undefined || idx % 3 >= spec.minSeverity) &&
    (spec.location === undefined || spec.location.includes(location))
}

/**
 * A burst of alerts over every severity and location to subscribers with
 * different filters (the tag each was connected with) and one unfiltered
 * monitor (tag -1), whose stream is the publish order: every other stream must
 * be exactly that order with its filter applied.
 */
async function filtered ({ port, alerts, inflight, idleMs, limitMs, filters }: FilteredArgs): Promise<FilteredResult> {
  const p = startPhase(alerts, true)
  const want = (conn: Conn, idx: number): boolean => conn.tag < 0 || passes(filters[conn.tag] as FilterSpec, idx)
  const open = conns.filter((c) => c.open)
  let expected = 0
  for (const conn of open) for (let i = 0; i < alerts; i++) if (want(conn, i)) expected++
  p.expected = expected
  const cpu0 = process.cpuUsage()
  const t0 = nowNs()
  const { non200, postsDone, drainNs } = await postAndDrain(p, { port, alerts, inflight, pad: false, mixed: true, idleMs, limitMs })

  const monitor = open.find((c) => c.tag < 0)
  const order = monitor === undefined ? [] : Array.from((monitor.seqs as Int32Array).subarray(0, Math.min(monitor.n, alerts)))
  const monitorComplete = monitor !== undefined && monitor.n === alerts && new Set(order).size === alerts
  let clientsExact = 0
  let missing = 0
  let extra = 0
  for (const conn of open) {
    const got = Array.from((conn.seqs as Int32Array).subarray(0, Math.min(conn.n, alerts)))
    const slice = order.filter((idx) => want(conn, idx))
    if (monitorComplete && conn.n === slice.length && got.every((idx, i) => idx === slice[i])) clientsExact++
    const gotSet = new Set(got)
    let wanted = 0
    let present = 0
    for (let i = 0; i < alerts; i++) {
      if (!want(conn, i)) continue
      wanted++
      if (gotSet.has(i)) present++
    }
    missing += wanted - present
    extra += conn.n - present
  }
  return {
    alerts,
    ws: open.filter((c) => c.client !== undefined).length,
    sse: open.filter((c) => c.reader !== undefined).length,
    deliveries: p.delivered,
    expected,
    drainMs: toMs(drainNs),
    deliveriesPerSec: drainNs > 0 ? Math.round(p.delivered / (drainNs / 1e9)) : 0,
    postsMs: toMs(postsDone - t0),
    non200,
    lastMs: Array.from(p.last, (t, i) => toMs(t - (p.sent[i] as number))),
    clientsExact,
    clientsWrong: open.length - clientsExact,
    missing,
    extra,
    monitorComplete,
    otherFrames: p.other,
    endedDuringRun: open.filter((c) => !c.open).length,
    loadgenCpuPct: cpuPct(cpu0, t0)
  }
}

/** Lets the slow clients read again and waits until each has every alert or has been closed. */
async function releaseSlow ({ limitMs }: { limitMs: number }): Promise<SlowOutcome> {
  const p = phase
  const slow = conns.filter((c) => c.slow)
  const t0 = nowNs()
  for (const conn of slow) conn.client?.resume()
  if (p !== undefined) {
    const settled = (): boolean => slow.every((c) => c.received >= p.n || c.client?.ended !== undefined)
    await until(p, settled, limitMs)
  }
  return {
    clients: slow.map((c) => ({ received: c.received, ending: c.client?.describeEnding() ?? 'never opened', closeCode: c.client?.ended?.closeCode })),
    waitedMs: toMs(nowNs() - t0)
  }
}

async function ingest ({ port, connections, durationS, warmupS }: IngestArgs): Promise<IngestResult> {
  const run = async (duration: number): Promise<autocannon.Result> => await new Promise((resolve, reject) => {
    autocannon({
      url: `http://${HOST}:${port}/alerts`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Ingest benchmark', location: 'Bench' }),
      connections,
      pipelining: 1,
      duration
    }, (err, result) => { if (err !== null) reject(err); else resolve(result) })
  })
  if (warmupS > 0) await run(warmupS)
  const r = await run(durationS)
  return {
    requestsPerSec: r.requests.average,
    total: r.requests.total,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    durationS: r.duration
  }
}

const handlers: { [C in CommandName]: (args: Commands[C]['args']) => Promise<Commands[C]['result']> } = {
  connect,
  disconnect,
  single,
  burst,
  filtered,
  releaseSlow,
  ingest
}

function reply (message: Reply): void {
  process.send?.(message)
}

process.on('message', (message: Request) => {
  const handler = handlers[message.cmd] as (args: unknown) => Promise<unknown>
  handler(message.args).then(
    (result) => reply({ id: message.id, ok: true, result }),
    (err: unknown) => reply({ id: message.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) })
  )
})
// The runner owns this process: when it goes, so does the load.
process.on('disconnect', () => process.exit(0))
