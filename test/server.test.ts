import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'node:http'
import { pathToFileURL } from 'node:url'
import { connect } from 'node:net'
import { type Teardown } from './helpers/app'
import { once } from './helpers/wait'
import { Client } from './helpers/ws-client'

const ROOT = resolve(__dirname, '..')
// How long a server process may take to print a line, or (npm start builds first) to listen.
const LINE_WAIT_MS = 20_000
const BUILD_WAIT_MS = 60_000
const SERVER = join(ROOT, 'server.ts')
// Loaded by path: the server runs in a scratch directory with no node_modules.
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
// tap follows spawned processes to collect their coverage; these run other
// loaders (tsx, the compiled dist/) whose coverage would blur the report.
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }

interface Proc { child: ChildProcess, lines: string[], exited: Promise<number | null>, waitLine: (re: RegExp) => Promise<string> }

/** Runs server.ts as its own process, in a directory holding the given .env. */
function start (t: Teardown, dotenv: string, env: Record<string, string> = {}): Proc {
  const cwd = mkdtempSync(join(tmpdir(), 'alert-server-'))
  writeFileSync(join(cwd, '.env'), dotenv)
  const child = spawn(process.execPath, ['--import', TSX, SERVER], {
    cwd,
    env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...NO_COVERAGE, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const lines: string[] = []
  const waiters: Array<{ re: RegExp, resolve: (line: string) => void }> = []
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(line)
      for (const w of waiters.filter((w) => w.re.test(line))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const waitLine = async (re: RegExp): Promise<string> => {
    const seen = lines.find((l) => re.test(l))
    if (seen !== undefined) return seen
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)}; got:\n${lines.join('\n')}`)), LINE_WAIT_MS)
      waiters.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l) } })
    })
  }
  return { child, lines, exited, waitLine }
}

async function listening (p: Proc): Promise<string> {
  const line = await p.waitLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/)
  return /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0] as string
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: clients get 1001, the in-flight request finishes, the process exits 0`, async (t) => {
    const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
    const base = await listening(p)
    const client = await Client.open(`${base.replace('http', 'ws')}/ws`, t)

    // A POST whose body is only half sent when the signal arrives.
    const body = JSON.stringify({ message: 'late', location: 'door' })
    const req = request(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } })
    const response = new Promise<{ status: number, body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let data = ''
        res.on('data', (c: Buffer) => { data += c.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }))
      })
      req.on('error', reject)
    })
    req.write(body.slice(0, 10))
    req.flushHeaders()
    await p.waitLine(/"method":"POST".*"incoming request"/)

    p.child.kill(signal)
    await p.waitLine(/shutting down/)
    t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
    req.end(body.slice(10))
    const res = await response
    t.equal(res.status, 200, 'the request in flight was answered: ' + res.body)
    t.match(JSON.parse(res.body), { type: 'alert', message: 'late' })
    t.equal(await p.exited, 0)
  })
}

t.test('a connection that never sends a request does not hold shutdown open', async (t) => {
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
  const base = await listening(p)
  const idle = connect(Number(new URL(base).port), '127.0.0.1')
  t.teardown(() => idle.destroy())
  await once(idle, 'connect')
  p.child.kill('SIGTERM')
  await once(idle, 'close', 15000)
  t.equal(await p.exited, 0, 'a clean exit, not the hard limit')
})

t.test('.env is read from the working directory; the environment overrides it', async (t) => {
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=30\nALERT_MESSAGE=From the env file\nALERT_LOCATION=Nowhere\n', { ALERT_LOCATION: 'From the environment' })
  const base = await listening(p)
  const client = await Client.open(`${base.replace('http', 'ws')}/ws`, t)
  t.match(await client.next(), { type: 'alert', message: 'From the env file', location: 'From the environment' })
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
})

t.test('an invalid value stops start-up with a message naming the variable', async (t) => {
  const p = start(t, '', { PORT: 'abc' })
  t.equal(await p.exited, 1)
  t.match(p.lines.join('\n'), /Cannot start: env\/PORT must be integer/)
})

t.test('a port already in use stops start-up with exit code 1', async (t) => {
  const first = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
  const base = await listening(first)
  const port = new URL(base).port
  const second = start(t, `PORT=${port}\nALERT_INTERVAL_MS=0\n`)
  t.equal(await second.exited, 1)
  t.match(second.lines.join('\n'), /EADDRINUSE/)
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
})


t.test('Ctrl+C on `npm start` (SIGINT to the whole process group) shuts the server down gracefully', async (t) => {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ALERT_INTERVAL_MS: '0', LOG_LEVEL: 'info', ...NO_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal's foreground job has.
    detached: true
  })
  t.teardown(() => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch {} })
  let out = ''
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening:\n${out}`)), BUILD_WAIT_MS)
    const onData = (c: Buffer): void => {
      out += c.toString()
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]
      if (url !== undefined) { clearTimeout(timer); resolve(url) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const base = await listening
  const client = await Client.open(`${base.replace('http', 'ws')}/ws`, t)
  process.kill(-(child.pid as number), 'SIGINT')
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  await exited
  t.match(out, /"signal":"SIGINT".*"msg":"shutting down"/)
})
