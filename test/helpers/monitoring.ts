import type { Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { underCI } from './browser'
import { once } from './wait'

/** Debian's monitoring binaries that the real integration tests drive. */
export const BINARIES = {
  alertmanager: '/usr/bin/prometheus-alertmanager',
  prometheus: '/usr/bin/prometheus',
  promtool: '/usr/bin/promtool'
} as const
export type Binary = keyof typeof BINARIES

const FIX = 'install Debian\'s prometheus and prometheus-alertmanager packages (apt-get install prometheus prometheus-alertmanager)'

/** Why the binary cannot run here, or undefined when it can. */
function missing (binary: Binary): string | undefined {
  const result = spawnSync(BINARIES[binary], ['--version'], { timeout: 15_000 })
  return result.status === 0 ? undefined : `${BINARIES[binary]} is not installed`
}

type Declare = (name: string, fn: (t: Test) => Promise<void>) => void

/**
 * How a test that needs a monitoring binary is declared. Without the binary a
 * developer's run skips it with a message naming the fix; under CI it fails
 * instead, so CI never skips these tests.
 */
export function monitoringTests (t: Test, ...binaries: Binary[]): Declare {
  const reason = binaries.map(missing).find((r) => r !== undefined)
  if (reason === undefined) return (name, fn) => { void t.test(name, fn) }
  if (underCI()) {
    void t.test(`the monitoring binaries (${binaries.join(', ')})`, async (t) => {
      t.fail(`${reason}, and CI is set: these tests must run in CI; ${FIX}`)
    })
    return () => {}
  }
  return (name, fn) => { void t.test(name, { skip: `${reason}: test skipped; to run it, ${FIX}` }, fn) }
}

/** A folder of this test's own, removed when it ends. */
export function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'alert-server-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Starts a binary with a configuration file written into a folder of the
 * test's own; stopped when the test ends. Its output is kept for failures, and
 * `line` waits for a line of it (the binary saying it listens).
 */
export function start (t: Test, binary: Binary, config: { file: string, text: string }, args: (dir: string, configPath: string) => string[]): { dir: string, output: () => string, line: (pattern: RegExp) => Promise<void> } {
  const dir = tempDir(t)
  const configPath = join(dir, config.file)
  writeFileSync(configPath, config.text)
  const child = spawn(BINARIES[binary], args(dir, configPath), { stdio: ['ignore', 'pipe', 'pipe'] })
  const output = new EventEmitter()
  let text = ''
  const read = (chunk: Buffer): void => {
    text += chunk.toString()
    output.emit('data')
  }
  child.stdout.on('data', read)
  child.stderr.on('data', read)
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited.catch(() => child.kill('SIGKILL'))
  })
  const line = async (pattern: RegExp): Promise<void> => {
    while (!pattern.test(text)) {
      await once(output, 'data').catch(() => { throw new Error(`${binary} wrote no line ${String(pattern)}:\n${text}`) })
    }
  }
  return { dir, output: () => text, line }
}

/**
 * The loopback port a binary started with `--web.listen-address=127.0.0.1:0`
 * got: Prometheus and Alertmanager log the address they listen on (at level
 * info), port included. No port is picked beforehand, so none can be taken
 * by another test in between.
 */
export async function listeningPort (started: { output: () => string, line: (pattern: RegExp) => Promise<void> }): Promise<number> {
  const listening = /msg="Listening on" address=127\.0\.0\.1:(\d+)/
  await started.line(listening)
  return Number(listening.exec(started.output())?.[1])
}

/** Runs promtool with `input` on stdin; its exit status and output. */
export async function promtool (args: string[], input: string): Promise<{ status: number | null, output: string }> {
  const child = spawn(BINARIES.promtool, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stdin.end(input)
  const status = await once<number | null>(child, 'exit')
  return { status, output }
}
