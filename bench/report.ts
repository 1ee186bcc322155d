import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BurstResult, ConnectResult, FilteredResult, IngestResult, SingleResult, SlowOutcome } from './loadgen'

/**
 * Turns the raw runs into summaries, target verdicts, latest.json (everything)
 * and latest.md (the tables).
 */

export type Target = 'project' | 'project-sqlite' | 'project-notify' | 'reference' | 'bare-fastify' | 'bare-fastify-no-logger'

export interface Settings {
  quick: boolean
  rounds: number
  scenarios: ScenarioName[]
  latency: { sizes: number[], alerts: number, warmup: number }
  burst: { clients: number, alerts: number, inflight: number, warmup: number }
  memory: { sizes: number[] }
  ingest: { connections: number, durationS: number, warmupS: number }
  slow: { clients: number, slowEvery: number, alerts: number, inflight: number, rounds: number }
  filtered: { wsClients: number, sseClients: number, alerts: number, inflight: number, warmup: number }
  serverEnv: Record<string, string>
}
export type ScenarioName = 'latency' | 'burst' | 'memory' | 'ingest' | 'slow' | 'filtered'

/** CPU the rest of the machine used during a run, in % of one core, and how long the run waited for quiet. */
export interface Background { otherCpuPct: number, waitedForQuietMs: number }

export interface LatencyRun {
  target: Target
  round: number
  background: Background
  steps: Array<{ clients: number, connect: ConnectResult, result: SingleResult, serverCpuPct: number }>
}
export interface BurstRun {
  target: Target
  round: number
  background: Background
  connect: ConnectResult
  result: BurstResult
  rssBeforeKiB: number
  rssPeakKiB: number
  serverCpuPct: number
}
export interface MemoryRun {
  target: Target
  round: number
  background: Background
  baselineKiB: number
  steps: Array<{ clients: number, open: number, rssKiB: number, bytesPerConnection: number }>
}
export interface IngestRun { target: Target, round: number, background: Background, result: IngestResult, serverCpuPct: number }
export interface SlowRun {
  target: Target
  round: number
  background: Background
  withSlow: boolean
  connect: ConnectResult
  result: BurstResult
  rssBeforeKiB: number
  rssPeakKiB: number
  outcome: SlowOutcome | undefined
  serverCpuPct: number
}
export interface FilteredRun {
  target: Target
  round: number
  background: Background
  /** Subscribers open when the burst started. */
  open: number
  result: FilteredResult
  rssBeforeKiB: number
  rssPeakKiB: number
  serverCpuPct: number
}
export interface Runs {
  latency: LatencyRun[]
  burst: BurstRun[]
  memory: MemoryRun[]
  ingest: IngestRun[]
  slow: SlowRun[]
  filtered: FilteredRun[]
}

export interface Meta {
  date: string
  durationS: number
  node: string
  os: string
  cpuModel: string
  cpuCount: number
  totalMemoryMiB: number
  fdLimit: string
  taskset: boolean
  pinning: string
  runtime: string
  git: { commit: string, dirtyFiles: string[] }
}

export interface TargetLine { name: string, detail: string, reached: boolean | undefined }

/** Runs that failed, and runs replaced by a quieter repeat (kept in latest.json, not counted). */
export interface Problems { failures: string[], discarded: Array<{ what: string, run: unknown }> }

export function percentile (values: number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  return sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)] as number
}

export function median (values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const byTarget = <T extends { target: Target }>(runs: T[], target: Target): T[] => runs.filter((r) => r.target === target)

// Summaries: latency percentiles are over every alert of every round pooled;
// rates and memory are the median of the rounds.

export function summarizeLatency (runs: LatencyRun[], target: Target, clients: number): { p50Last: number, p99Last: number, p50First: number, p99First: number, p50Response: number, serverCpuPct: number, loadgenCpuPct: number, samples: number } | undefined {
  const steps = byTarget(runs, target).flatMap((r) => r.steps.filter((s) => s.clients === clients))
  if (steps.length === 0) return undefined
  const last = steps.flatMap((s) => s.result.lastMs)
  const first = steps.flatMap((s) => s.result.firstMs)
  return {
    p50Last: percentile(last, 50),
    p99Last: percentile(last, 99),
    p50First: percentile(first, 50),
    p99First: percentile(first, 99),
    p50Response: percentile(steps.flatMap((s) => s.result.responseMs), 50),
    serverCpuPct: median(steps.map((s) => s.serverCpuPct)),
    loadgenCpuPct: median(steps.map((s) => s.result.loadgenCpuPct)),
    samples: last.length
  }
}

export function summarizeBurst (runs: Array<BurstRun | SlowRun>, target: Target): { deliveriesPerSec: number, drainMs: number, p50Last: number, p99Last: number, rssBeforeKiB: number, rssPeakKiB: number, serverCpuPct: number, loadgenCpuPct: number, clients: number, minComplete: number, missing: number, duplicates: number, outOfOrder: number, deliveries: number, expected: number, rounds: number } | undefined {
  const mine = byTarget(runs, target)
  if (mine.length === 0) return undefined
  return {
    deliveriesPerSec: median(mine.map((r) => r.result.deliveriesPerSec)),
    drainMs: median(mine.map((r) => r.result.drainMs)),
    p50Last: percentile(mine.flatMap((r) => r.result.lastMs), 50),
    p99Last: percentile(mine.flatMap((r) => r.result.lastMs), 99),
    rssBeforeKiB: median(mine.map((r) => r.rssBeforeKiB)),
    rssPeakKiB: median(mine.map((r) => r.rssPeakKiB)),
    serverCpuPct: median(mine.map((r) => r.serverCpuPct)),
    loadgenCpuPct: median(mine.map((r) => r.result.loadgenCpuPct)),
    clients: Math.min(...mine.map((r) => r.result.integrity.clients)),
    minComplete: Math.min(...mine.map((r) => r.result.integrity.clientsComplete)),
    missing: mine.reduce((s, r) => s + r.result.integrity.missing, 0),
    duplicates: mine.reduce((s, r) => s + r.result.integrity.duplicates, 0),
    outOfOrder: mine.reduce((s, r) => s + r.result.integrity.clientsOutOfOrder, 0),
    deliveries: mine.reduce((s, r) => s + r.result.deliveries, 0),
    expected: mine.reduce((s, r) => s + r.result.expected, 0),
    rounds: mine.length
  }
}

export function summarizeMemory (runs: MemoryRun[], target: Target, clients: number): { bytesPerConnection: number, baselineKiB: number, rssKiB: number } | undefined {
  const steps = byTarget(runs, target).map((r) => ({ run: r, step: r.steps.find((s) => s.clients === clients) }))
    .filter((x) => x.step !== undefined)
  if (steps.length === 0) return undefined
  return {
    bytesPerConnection: median(steps.map((x) => x.step?.bytesPerConnection ?? NaN)),
    baselineKiB: median(steps.map((x) => x.run.baselineKiB)),
    rssKiB: median(steps.map((x) => x.step?.rssKiB ?? NaN))
  }
}

export function summarizeIngest (runs: IngestRun[], target: Target): { requestsPerSec: number, latencyP50Ms: number, latencyP99Ms: number, serverCpuPct: number, non2xx: number, errors: number } | undefined {
  const mine = byTarget(runs, target)
  if (mine.length === 0) return undefined
  return {
    requestsPerSec: median(mine.map((r) => r.result.requestsPerSec)),
    latencyP50Ms: median(mine.map((r) => r.result.latencyP50Ms)),
    latencyP99Ms: median(mine.map((r) => r.result.latencyP99Ms)),
    serverCpuPct: median(mine.map((r) => r.serverCpuPct)),
    non2xx: mine.reduce((s, r) => s + r.result.non2xx, 0),
    errors: mine.reduce((s, r) => s + r.result.errors, 0)
  }
}

/** How the slow clients' connections ended, counted: e.g. {"close frame 1013": 10}. */
export function slowEndings (runs: SlowRun[], target: Target): { endings: Record<string, number>, clients: number, complete: number, received: number[] } {
  const endings: Record<string, number> = {}
  let clients = 0
  let complete = 0
  const received: number[] = []
  for (const run of byTarget(runs, target)) {
    for (const c of run.outcome?.clients ?? []) {
      clients++
      received.push(c.received)
      if (c.received >= run.result.alerts) complete++
      endings[c.ending] = (endings[c.ending] ?? 0) + 1
    }
  }
  return { endings, clients, complete, received }
}

// Formatting

const int = (n: number): string => Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
const ms = (n: number): string => !Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)
const kib = (bytes: number): string => Number.isFinite(bytes) ? (bytes / 1024).toFixed(2) : 'n/a'
const mib = (k: number): string => Number.isFinite(k) ? (k / 1024).toFixed(1) : 'n/a'
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`

function table (header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map((_, i) => i === 0 ? '---' : '---:')), ...rows.map(line)].join('\n')
}

/** The filtered burst over its rounds: medians, and the integrity counts summed. */
export function summarizeFiltered (runs: FilteredRun[]): { deliveriesPerSec: number, drainMs: number, p99Last: number, serverCpuPct: number, loadgenCpuPct: number, deliveries: number, expected: number, exact: number, subscribers: number, missing: number, extra: number, rssPeakKiB: number, rounds: number } | undefined {
  if (runs.length === 0) return undefined
  const r = runs.map((x) => x.result)
  return {
    deliveriesPerSec: median(r.map((x) => x.deliveriesPerSec)),
    drainMs: median(r.map((x) => x.drainMs)),
    p99Last: percentile(r.flatMap((x) => x.lastMs), 99),
    serverCpuPct: median(runs.map((x) => x.serverCpuPct)),
    loadgenCpuPct: median(r.map((x) => x.loadgenCpuPct)),
    deliveries: r.reduce((sum, x) => sum + x.deliveries, 0),
    expected: r.reduce((sum, x) => sum + x.expected, 0),
    exact: r.reduce((sum, x) => sum + x.clientsExact, 0),
    subscribers: r.reduce((sum, x) => sum + x.clientsExact + x.clientsWrong, 0),
    missing: r.reduce((sum, x) => sum + x.missing, 0),
    extra: r.reduce((sum, x) => sum + x.extra, 0),
    rssPeakKiB: median(runs.map((x) => x.rssPeakKiB)),
    rounds: runs.length
  }
}

export function evaluateTargets (settings: Settings, runs: Runs): TargetLine[] {
  const lines: TargetLine[] = []
  const fp = summarizeFiltered(runs.filtered)
  const fr = summarizeBurst(runs.burst, 'reference')
  if (fp !== undefined) {
    lines.push({
      name: 'Filtered burst deliveries/s ≥ 3x the reference\'s unfiltered burst',
      detail: fr === undefined ? 'not measured (run burst too)' : `${int(fp.deliveriesPerSec)}/s vs ${int(fr.deliveriesPerSec)}/s = ${ratio(fp.deliveriesPerSec, fr.deliveriesPerSec)}`,
      reached: fr === undefined ? undefined : fp.deliveriesPerSec >= 3 * fr.deliveriesPerSec
    })
    lines.push({
      name: 'Filtered burst: nothing lost, every stream exactly its filter\'s slice in order',
      detail: `${int(fp.exact)}/${int(fp.subscribers)} exact, ${int(fp.missing)} missing, ${int(fp.extra)} extra`,
      reached: fp.exact === fp.subscribers && fp.missing === 0 && fp.extra === 0
    })
  }

  const bp = summarizeBurst(runs.burst, 'project')
  const br = summarizeBurst(runs.burst, 'reference')
  lines.push({
    name: 'Burst deliveries/s ≥ 2x reference',
    detail: bp === undefined || br === undefined ? 'not measured' : `${int(bp.deliveriesPerSec)}/s vs ${int(br.deliveriesPerSec)}/s = ${ratio(bp.deliveriesPerSec, br.deliveriesPerSec)}`,
    reached: bp === undefined || br === undefined ? undefined : bp.deliveriesPerSec >= 2 * br.deliveriesPerSec
  })

  const sizes = settings.latency.sizes
  for (const clients of [...new Set([sizes[0], sizes[sizes.length - 1]])]) {
    if (clients === undefined) continue
    const lp = summarizeLatency(runs.latency, 'project', clients)
    const lr = summarizeLatency(runs.latency, 'reference', clients)
    lines.push({
      name: `Single-alert p50 (POST → last client) ≤ 1.1x reference at ${int(clients)} clients`,
      detail: lp === undefined || lr === undefined ? 'not measured' : `${ms(lp.p50Last)} ms vs ${ms(lr.p50Last)} ms = ${ratio(lp.p50Last, lr.p50Last)}`,
      reached: lp === undefined || lr === undefined ? undefined : lp.p50Last <= 1.1 * lr.p50Last
    })
  }

  const memClients = settings.memory.sizes[settings.memory.sizes.length - 1] ?? 0
  const mp = summarizeMemory(runs.memory, 'project', memClients)
  const mr = summarizeMemory(runs.memory, 'reference', memClients)
  lines.push({
    name: `Memory per idle connection ≤ reference + 2 KiB (at ${int(memClients)} connections)`,
    detail: mp === undefined || mr === undefined ? 'not measured' : `${kib(mp.bytesPerConnection)} KiB vs ${kib(mr.bytesPerConnection)} KiB (+${kib(mp.bytesPerConnection - mr.bytesPerConnection)} KiB)`,
    reached: mp === undefined || mr === undefined ? undefined : mp.bytesPerConnection <= mr.bytesPerConnection + 2048
  })

  const is = summarizeIngest(runs.ingest, 'project-sqlite')
  const im = summarizeIngest(runs.ingest, 'project')
  if (is !== undefined) {
    lines.push({
      name: 'POST /alerts on SQLite ≥ 0.7x the memory store',
      detail: im === undefined ? 'not measured' : `${int(is.requestsPerSec)} req/s vs ${int(im.requestsPerSec)} req/s = ${ratio(is.requestsPerSec, im.requestsPerSec)}`,
      reached: im === undefined ? undefined : is.requestsPerSec >= 0.7 * im.requestsPerSec
    })
  }

  const bn = summarizeBurst(runs.burst, 'project-notify')
  const bm = summarizeBurst(runs.burst, 'project')
  if (bn !== undefined) {
    lines.push({
      name: 'Burst with notifications (three routes, a 1 s webhook) ≥ 0.9x without',
      detail: bm === undefined ? 'not measured' : `${int(bn.deliveriesPerSec)} vs ${int(bm.deliveriesPerSec)} deliveries/s = ${ratio(bn.deliveriesPerSec, bm.deliveriesPerSec)}`,
      reached: bm === undefined ? undefined : bn.deliveriesPerSec >= 0.9 * bm.deliveriesPerSec
    })
  }

  const ip = summarizeIngest(runs.ingest, 'project')
  const ib = summarizeIngest(runs.ingest, 'bare-fastify-no-logger')
  lines.push({
    name: 'POST /alerts ≥ 0.8x bare Fastify route without a logger',
    detail: ip === undefined || ib === undefined ? 'not measured' : `${int(ip.requestsPerSec)} req/s vs ${int(ib.requestsPerSec)} req/s = ${ratio(ip.requestsPerSec, ib.requestsPerSec)}`,
    reached: ip === undefined || ib === undefined ? undefined : ip.requestsPerSec >= 0.8 * ib.requestsPerSec
  })
  return lines
}

/** Each round's value of a metric for a target, in round order. */
function rounds<T extends { target: Target, round: number }> (runs: T[], target: Target, value: (run: T) => number): number[] {
  return byTarget(runs, target).sort((a, b) => a.round - b.round).map(value)
}

const spread = (values: number[], format: (n: number) => string): string => values.length === 0 ? 'n/a' : values.map(format).join(', ')

/** Rows comparing the project on SQLite with the project in memory, where both ran. */
function storeComparison (settings: Settings, runs: Runs): string[][] {
  const rows: string[][] = []
  const add = (name: string, memory: number[], sqlite: number[], format: (n: number) => string): void => {
    if (memory.length === 0 || sqlite.length === 0) return
    rows.push([name, spread(memory, format), spread(sqlite, format), ratio(median(sqlite), median(memory))])
  }
  add('POST /alerts req/s', rounds(runs.ingest, 'project', (r) => r.result.requestsPerSec), rounds(runs.ingest, 'project-sqlite', (r) => r.result.requestsPerSec), int)
  add('burst deliveries/s', rounds(runs.burst, 'project', (r) => r.result.deliveriesPerSec), rounds(runs.burst, 'project-sqlite', (r) => r.result.deliveriesPerSec), int)
  add('burst drain, ms', rounds(runs.burst, 'project', (r) => r.result.drainMs), rounds(runs.burst, 'project-sqlite', (r) => r.result.drainMs), ms)
  for (const clients of settings.latency.sizes) {
    const p50 = (r: LatencyRun): number => percentile(r.steps.find((s) => s.clients === clients)?.result.lastMs ?? [], 50)
    add(`single alert p50 POST → last client, ${int(clients)} clients, ms`, rounds(runs.latency, 'project', p50), rounds(runs.latency, 'project-sqlite', p50), ms)
  }
  return rows
}

/** Rows comparing the project with three routes matching every alert to a webhook that answers in 1 s, against the project without routes. */
function notifyComparison (settings: Settings, runs: Runs): string[][] {
  const rows: string[][] = []
  const add = (name: string, plain: number[], notify: number[], format: (n: number) => string): void => {
    if (plain.length === 0 || notify.length === 0) return
    rows.push([name, spread(plain, format), spread(notify, format), ratio(median(notify), median(plain))])
  }
  add('burst deliveries/s', rounds(runs.burst, 'project', (r) => r.result.deliveriesPerSec), rounds(runs.burst, 'project-notify', (r) => r.result.deliveriesPerSec), int)
  add('burst drain, ms', rounds(runs.burst, 'project', (r) => r.result.drainMs), rounds(runs.burst, 'project-notify', (r) => r.result.drainMs), ms)
  add('burst per-alert p99, ms (POST → last client)', rounds(runs.burst, 'project', (r) => percentile(r.result.lastMs, 99)), rounds(runs.burst, 'project-notify', (r) => percentile(r.result.lastMs, 99)), ms)
  for (const clients of settings.latency.sizes) {
    const p50 = (r: LatencyRun): number => percentile(r.steps.find((s) => s.clients === clients)?.result.lastMs ?? [], 50)
    const p99 = (r: LatencyRun): number => percentile(r.steps.find((s) => s.clients === clients)?.result.lastMs ?? [], 99)
    add(`single alert p50 POST → last client, ${int(clients)} clients, ms`, rounds(runs.latency, 'project', p50), rounds(runs.latency, 'project-notify', p50), ms)
    add(`single alert p99 POST → last client, ${int(clients)} clients, ms`, rounds(runs.latency, 'project', p99), rounds(runs.latency, 'project-notify', p99), ms)
  }
  return rows
}

/** Mean CPU other processes used during a target's runs, in % of one core. */
function backgroundPct (runs: Array<{ target: Target, background: Background }>, target: Target): number {
  const mine = byTarget(runs, target)
  return mine.length === 0 ? NaN : mine.reduce((sum, r) => sum + r.background.otherCpuPct, 0) / mine.length
}
const BACKGROUND_LABEL = 'other processes, % of a core (mean over runs)'

function allRuns (runs: Runs): Array<{ target: Target, background: Background }> {
  return [...runs.latency, ...runs.burst, ...runs.memory, ...runs.ingest, ...runs.slow, ...runs.filtered]
}

export function markdown (meta: Meta, settings: Settings, runs: Runs, targets: TargetLine[], { failures, discarded }: Problems): string {
  const out: string[] = []
  out.push(`Run of ${meta.date} (${Math.round(meta.durationS)} s${settings.quick ? ', --quick' : ''}): ${meta.cpuCount} × ${meta.cpuModel}, ` +
    `${(meta.totalMemoryMiB / 1024).toFixed(1)} GiB RAM, Node ${meta.node}, ${meta.pinning}; ${meta.runtime}; ` +
    `${settings.rounds} round(s) per server, alternating. Ratios are project/reference.`)
  out.push(`\nProject at ${meta.git.commit.slice(0, 7)}` +
    (meta.git.dirtyFiles.length > 0 ? ` plus uncommitted changes in: ${meta.git.dirtyFiles.join(', ')}.` : '.'))
  const background = (t: Target): number[] => allRuns(runs).filter((r) => r.target === t).map((r) => r.background.otherCpuPct)
  const bp = background('project')
  const br = background('reference')
  if (bp.length > 0 && br.length > 0) {
    const avg = (v: number[]): number => Math.round(v.reduce((a, b) => a + b, 0) / v.length)
    out.push(`\nOther processes on the machine used ${avg(bp)}% of a core on average during project runs (max ${Math.max(...bp)}%) ` +
      `and ${avg(br)}% during reference runs (max ${Math.max(...br)}%).`)
  }
  if (discarded.length > 0) {
    out.push(`\n${discarded.length} run(s) were repeated because other processes used over half a core during them; the quieter of each pair is counted: ` +
      `${discarded.map((d) => d.what).join(', ')}.`)
  }
  if (failures.length > 0) out.push(`\n**${failures.length} run(s) failed:** ${failures.join('; ')}`)

  if (runs.latency.length > 0) {
    const s = settings.latency
    out.push(`\n#### 1. Single-alert latency (${s.alerts} sequential alerts per size and round, ms from POST sent)\n`)
    const rows: string[][] = []
    for (const clients of s.sizes) {
      const p = summarizeLatency(runs.latency, 'project', clients)
      const r = summarizeLatency(runs.latency, 'reference', clients)
      if (p === undefined && r === undefined) continue
      const row = (label: string, pick: (x: NonNullable<typeof p>) => number, f = ms): string[] =>
        [int(clients), label, p === undefined ? 'n/a' : f(pick(p)), r === undefined ? 'n/a' : f(pick(r)), ratio(p === undefined ? undefined : pick(p), r === undefined ? undefined : pick(r))]
      rows.push(row('p50 to last client', (x) => x.p50Last))
      rows.push(row('p99 to last client', (x) => x.p99Last))
      rows.push(row('p50 to first client', (x) => x.p50First))
      rows.push(row('p99 to first client', (x) => x.p99First))
      rows.push(row('server CPU % (median)', (x) => x.serverCpuPct, int))
    }
    rows.push(['all', BACKGROUND_LABEL, int(backgroundPct(runs.latency, 'project')), int(backgroundPct(runs.latency, 'reference')), ''])
    out.push(table(['clients', 'metric', 'project', 'reference', 'ratio'], rows))
  }

  if (runs.burst.length > 0) {
    const s = settings.burst
    const p = summarizeBurst(runs.burst, 'project')
    const r = summarizeBurst(runs.burst, 'reference')
    out.push(`\n#### 2. Burst (${s.alerts} alerts, ${s.inflight} in flight, ${int(s.clients)} clients)\n`)
    const row = (label: string, pick: (x: NonNullable<typeof p>) => number, f: (n: number) => string, withRatio = true): string[] =>
      [label, p === undefined ? 'n/a' : f(pick(p)), r === undefined ? 'n/a' : f(pick(r)), withRatio ? ratio(p === undefined ? undefined : pick(p), r === undefined ? undefined : pick(r)) : '']
    const text = (label: string, show: (x: NonNullable<typeof p>) => string): string[] =>
      [label, p === undefined ? 'n/a' : show(p), r === undefined ? 'n/a' : show(r), '']
    out.push(table(['metric', 'project', 'reference', 'ratio'], [
      row('deliveries/s (median of rounds)', (x) => x.deliveriesPerSec, int),
      row('drain time, ms (first POST → last delivery)', (x) => x.drainMs, ms),
      row('per-alert p50, ms (POST → last client)', (x) => x.p50Last, ms),
      row('per-alert p99, ms (POST → last client)', (x) => x.p99Last, ms),
      row('server CPU %', (x) => x.serverCpuPct, int),
      row('load generator CPU %', (x) => x.loadgenCpuPct, int),
      text('clients with every alert once, same order (worst round)', (x) => `${int(x.minComplete)}/${int(x.clients)}`),
      text('deliveries received / expected (all rounds)', (x) => `${int(x.deliveries)} / ${int(x.expected)}`),
      text('missing / duplicate deliveries / clients out of order', (x) => `${int(x.missing)} / ${int(x.duplicates)} / ${int(x.outOfOrder)}`),
      [BACKGROUND_LABEL, int(backgroundPct(runs.burst, 'project')), int(backgroundPct(runs.burst, 'reference')), '']
    ]))
  }

  if (runs.memory.length > 0) {
    out.push('\n#### 3. Memory per idle connection ((RSS with N idle − RSS with 0) / N)\n')
    const rows: string[][] = []
    for (const clients of settings.memory.sizes) {
      const p = summarizeMemory(runs.memory, 'project', clients)
      const r = summarizeMemory(runs.memory, 'reference', clients)
      rows.push([int(clients), p === undefined ? 'n/a' : kib(p.bytesPerConnection), r === undefined ? 'n/a' : kib(r.bytesPerConnection), ratio(p?.bytesPerConnection, r?.bytesPerConnection),
        p === undefined ? 'n/a' : `${mib(p.baselineKiB)} → ${mib(p.rssKiB)}`, r === undefined ? 'n/a' : `${mib(r.baselineKiB)} → ${mib(r.rssKiB)}`])
    }
    out.push(table(['connections', 'project KiB/conn', 'reference KiB/conn', 'ratio', 'project RSS MiB (0 → N)', 'reference RSS MiB (0 → N)'], rows))
    out.push(`\nRSS does not depend on CPU contention the way timings do; ${BACKGROUND_LABEL}: project ${int(backgroundPct(runs.memory, 'project'))}, reference ${int(backgroundPct(runs.memory, 'reference'))}.`)
  }

  if (runs.ingest.length > 0) {
    const s = settings.ingest
    out.push(`\n#### 4. Ingest: POST /alerts, autocannon ${s.connections} connections, ${s.durationS} s, no pipelining, no WebSocket clients\n`)
    const bare = summarizeIngest(runs.ingest, 'bare-fastify')
    const bareNoLogger = summarizeIngest(runs.ingest, 'bare-fastify-no-logger')
    const ref = summarizeIngest(runs.ingest, 'reference')
    const rows = (['project', 'bare-fastify', 'bare-fastify-no-logger', 'reference'] as Target[]).map((t) => {
      const x = summarizeIngest(runs.ingest, t)
      return [t, x === undefined ? 'n/a' : int(x.requestsPerSec), x === undefined ? 'n/a' : `${ms(x.latencyP50Ms)} / ${ms(x.latencyP99Ms)}`,
        x === undefined ? 'n/a' : int(x.serverCpuPct), int(backgroundPct(runs.ingest, t)),
        ratio(x?.requestsPerSec, bareNoLogger?.requestsPerSec), ratio(x?.requestsPerSec, bare?.requestsPerSec), ratio(x?.requestsPerSec, ref?.requestsPerSec)]
    })
    out.push(table(['server', 'req/s (median)', 'latency p50 / p99, ms', 'server CPU %', 'other processes, % of a core',
      'vs bare Fastify, no logger', 'vs bare Fastify, logger', 'vs reference'], rows))
    out.push('\nbare-fastify is Fastify with POST /alerts alone (same schemas) and a logger at the level the project runs with; ' +
      'bare-fastify-no-logger is the same route without a logger.')
  }

  if (runs.slow.length > 0) {
    const s = settings.slow
    const slowCount = Math.floor(s.clients / s.slowEvery)
    out.push(`\n#### 5. Slow consumers (${int(s.clients)} clients, ${slowCount} stop reading; ${int(s.alerts)} alerts of ~1.3 KB, ${s.inflight} in flight; ${s.rounds} round(s))\n`)
    const base = runs.slow.filter((r) => !r.withSlow)
    const withSlow = runs.slow.filter((r) => r.withSlow)
    const pb = summarizeBurst(base, 'project')
    const ps = summarizeBurst(withSlow, 'project')
    const rb = summarizeBurst(base, 'reference')
    const rs = summarizeBurst(withSlow, 'reference')
    const row = (label: string, pick: (x: NonNullable<typeof pb>) => number, f: (n: number) => string): string[] => {
      const v = (x: typeof pb): string => x === undefined ? 'n/a' : f(pick(x))
      const pv = (x: typeof pb): number | undefined => x === undefined ? undefined : pick(x)
      return [label, v(pb), v(ps), v(rb), v(rs), ratio(pv(ps), pv(rs))]
    }
    const pe = slowEndings(withSlow, 'project')
    const re = slowEndings(withSlow, 'reference')
    const endings = (e: ReturnType<typeof slowEndings>): string =>
      Object.entries(e.endings).map(([k, n]) => `${n}× ${k}`).join(', ') || 'n/a'
    out.push(table(['metric', 'project, none slow', 'project, 1% slow', 'reference, none slow', 'reference, 1% slow', 'ratio (1% slow)'], [
      row('reading clients: per-alert p50, ms (POST → last)', (x) => x.p50Last, ms),
      row('reading clients: per-alert p99, ms (POST → last)', (x) => x.p99Last, ms),
      row('deliveries/s to reading clients', (x) => x.deliveriesPerSec, int),
      row('server RSS before burst, MiB', (x) => x.rssBeforeKiB, mib),
      row('server RSS peak during burst, MiB', (x) => x.rssPeakKiB, mib),
      ['reading clients with every alert, in order (worst round)', ...[pb, ps, rb, rs].map((x) => x === undefined ? 'n/a' : `${int(x.minComplete)}/${int(x.clients)}`), ''],
      row('server CPU %', (x) => x.serverCpuPct, int),
      [BACKGROUND_LABEL, int(backgroundPct(base, 'project')), int(backgroundPct(withSlow, 'project')), int(backgroundPct(base, 'reference')), int(backgroundPct(withSlow, 'reference')), ''],
      ['slow clients: how the connection stood after reading again (all rounds)', '', endings(pe), '', endings(re), ''],
      ['slow clients that got every alert', '', `${pe.complete}/${pe.clients}`, '', `${re.complete}/${re.clients}`, ''],
      ['alerts a slow client got (median)', '', int(median(pe.received)), '', int(median(re.received)), '']
    ]))
  }

  const f = summarizeFiltered(runs.filtered)
  if (f !== undefined) {
    const s = settings.filtered
    out.push(`\n#### 6. Filtered burst (${s.alerts} alerts over 3 severities and 4 locations, ${s.inflight} in flight; ${int(s.wsClients)} WebSockets and ${int(s.sseClients)} SSE readers over 10 filters, 1 unfiltered monitor; project only)\n`)
    out.push(table(['metric', 'project'], [
      ['deliveries/s (median)', int(f.deliveriesPerSec)],
      ['drain, ms (median)', ms(f.drainMs)],
      ['p99 POST → last subscriber of an alert, ms', ms(f.p99Last)],
      ['delivered / expected (all rounds)', `${int(f.deliveries)}/${int(f.expected)}`],
      ['subscribers with exactly their slice, in order', `${int(f.exact)}/${int(f.subscribers)}`],
      ['missing / extra deliveries', `${int(f.missing)} / ${int(f.extra)}`],
      ['server CPU % (median)', int(f.serverCpuPct)],
      ['server RSS peak, MiB (median)', mib(f.rssPeakKiB)],
      [BACKGROUND_LABEL, int(backgroundPct(runs.filtered, 'project'))]
    ]))
  }

  const storeRows = storeComparison(settings, runs)
  if (storeRows.length > 0) {
    out.push('\n#### 7. The store: the project on SQLite (STORE=sqlite, a fresh file each run) against memory, in the same run\n')
    out.push(table(['metric', 'memory, each round', 'sqlite, each round', 'ratio of medians (sqlite/memory)'], storeRows))
    out.push('\nA ratio means little unless the SQLite rounds fall outside the spread of the memory rounds: compare the rounds.')
  }

  const notifyRows = notifyComparison(settings, runs)
  if (notifyRows.length > 0) {
    out.push('\n#### 8. Notifications: three NOTIFY_FILE routes matching every alert, to one webhook on loopback that answers after 1 s, against no routes (both in memory)\n')
    out.push(table(['metric', 'no routes, each round', 'routes, each round', 'ratio of medians (routes/none)'], notifyRows))
    out.push('\nEvery alert writes one outbox entry (the three routes name one receiver) in the append\'s step; the sender delivers one at a time, a second each, so the outbox only grows during the run: the fan-out must not notice.')
  }

  out.push('\n#### Targets\n')
  for (const t of targets) {
    const mark = t.reached === undefined ? 'not measured' : t.reached ? '**reached**' : '**not reached**'
    out.push(`- ${t.name}: ${t.detail} — ${mark}`)
  }
  return out.join('\n') + '\n'
}

export function write (dir: string, name: string, meta: Meta, settings: Settings, runs: Runs, problems: Problems): { json: string, md: string, text: string } {
  const targets = evaluateTargets(settings, runs)
  const text = markdown(meta, settings, runs, targets, problems)
  mkdirSync(dir, { recursive: true })
  const json = join(dir, `${name}.json`)
  const md = join(dir, `${name}.md`)
  const summary = {
    latency: Object.fromEntries(settings.latency.sizes.map((c) => [c, { project: summarizeLatency(runs.latency, 'project', c), reference: summarizeLatency(runs.latency, 'reference', c) }])),
    burst: { project: summarizeBurst(runs.burst, 'project'), reference: summarizeBurst(runs.burst, 'reference') },
    memory: Object.fromEntries(settings.memory.sizes.map((c) => [c, { project: summarizeMemory(runs.memory, 'project', c), reference: summarizeMemory(runs.memory, 'reference', c) }])),
    ingest: {
      project: summarizeIngest(runs.ingest, 'project'),
      bareFastify: summarizeIngest(runs.ingest, 'bare-fastify'),
      bareFastifyNoLogger: summarizeIngest(runs.ingest, 'bare-fastify-no-logger'),
      reference: summarizeIngest(runs.ingest, 'reference')
    },
    slow: {
      project: { none: summarizeBurst(runs.slow.filter((r) => !r.withSlow), 'project'), slow: summarizeBurst(runs.slow.filter((r) => r.withSlow), 'project'), endings: slowEndings(runs.slow.filter((r) => r.withSlow), 'project') },
      reference: { none: summarizeBurst(runs.slow.filter((r) => !r.withSlow), 'reference'), slow: summarizeBurst(runs.slow.filter((r) => r.withSlow), 'reference'), endings: slowEndings(runs.slow.filter((r) => r.withSlow), 'reference') }
    },
    filtered: summarizeFiltered(runs.filtered)
  }
  // Indented, but with arrays of numbers on one line each: thousands of per-alert times stay readable.
  const pretty = JSON.stringify({ meta, settings, summary, targets, runs, ...problems }, null, 2)
    .replace(/\[\s+([-\d.eE+,\s]+?)\s+\]/g, (_all, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`)
  writeFileSync(json, pretty + '\n')
  writeFileSync(md, text)
  return { json, md, text }
}
