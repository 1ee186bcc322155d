import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { once, waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { connectionCap, descriptorLimit, intervalReporter } from '../plugins/core/descriptors'

const ROOT = resolve(__dirname, '..')
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
// Processes the tests spawn run another loader; their coverage would blur the report.
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }
const LIMIT = 256
const IDLE = 300
const LINE_WAIT_MS = 20_000

interface Answer { status: number | string, reused: boolean }

/** One GET or POST; resolves with the status, or the error code when the connection is refused. */
async function call (base: string, agent: Agent | false, method = 'GET', path = '/health', body?: unknown): Promise<Answer> {
  return await new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(`${base}${path}`, { method, agent, headers: payload === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }))
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', reused: false }))
    req.setTimeout(5000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.end(payload)
  })
}

t.test('out of descriptors: the process lives, open connections are served, new ones refused, logged once per interval, and it recovers', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'alert-server-'))
  // No shedding on event-loop delay: a server just started under a busy machine
  // (test files side by side) may pass the default second, and answer 503 for that.
  // The idle connections must stay open until the test ends them: with the
  // default HEADERS_TIMEOUT_MS the server closes them after 10 s without a byte,
  // and on a busy machine that freed their descriptors before the limit was lowered.
  writeFileSync(join(cwd, '.env'), 'PORT=0\nALERT_INTERVAL_MS=0\nMAX_EVENT_LOOP_DELAY_MS=0\nHEADERS_TIMEOUT_MS=600000\nREQUEST_TIMEOUT_MS=600000\nKEEP_ALIVE_TIMEOUT_MS=600000\n')
  const child = spawn('prlimit', [`--nofile=${LIMIT}:${LIMIT}`, process.execPath, '--import', TSX, join(ROOT, 'server.ts')], {
    cwd, env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...NO_COVERAGE }, stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const lines: string[] = []
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { exitCode = code; resolve(code) }))
  const onData = (chunk: Buffer): void => { lines.push(...chunk.toString().split('\n').filter(Boolean)) }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const waitLine = async (re: RegExp): Promise<string> => {
    await waitFor(() => exitCode !== undefined || lines.some((l) => re.test(l)), LINE_WAIT_MS)
      .catch(() => { throw new Error(`no line ${String(re)} in:\n${lines.join('\n')}`) })
    const line = lines.find((l) => re.test(l))
    if (line === undefined) throw new Error(`exited ${String(exitCode)} before ${String(re)}:\n${lines.join('\n')}`)
    return line
  }
  const base = /http:\/\/127\.0\.0\.1:\d+/.exec(await waitLine(/Server listening at/))?.[0] as string
  const port = Number(new URL(base).port)

  // Connections open before the descriptors run out: a keep-alive HTTP one and a WebSocket.
  const keep = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => keep.destroy())
  t.equal((await call(base, keep)).status, 200)
  const ws = await Client.open(`${base.replace('http', 'ws')}/ws`, t)

  // Idle connections (no bytes, no token) past the descriptor limit.
  const idle: Socket[] = []
  let closedByServer = 0
  t.teardown(() => { for (const s of idle) s.destroy() })
  for (let i = 0; i < IDLE; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('close', () => { closedByServer++ })
    idle.push(socket)
  }
  const capLine = JSON.parse(await waitLine(/connection cap reached/))
  t.equal(capLine.descriptorLimit, LIMIT)
  t.equal(capLine.level, 40, 'a warning')
  const cap = capLine.maxConnections as number
  t.ok(cap < LIMIT, `connections capped at ${cap}`)
  // Every idle connection past the cap is refused; the ones within it stay open.
  await waitFor(() => closedByServer >= IDLE - cap, LINE_WAIT_MS)

  const served = async (label: string): Promise<void> => {
    const published = await call(base, keep, 'POST', '/alerts', { message: label, location: 'fd' })
    t.same(published, { status: 200, reused: true }, `${label}: the open keep-alive connection is served`)
    t.match(await ws.next(), { type: 'alert', message: label }, `${label}: the open WebSocket gets the event`)
    t.equal(exitCode, undefined, `${label}: the process lives`)
  }
  await served('at the cap')
  t.not((await call(base, false)).status, 200, 'a new connection is refused')

  // The limit itself, below what is open (as if descriptors went elsewhere):
  // accepting and sampling memory both fail with EMFILE, and must not end the process.
  const LOWERED = 128
  t.ok(idle.filter((s) => !s.closed).length > LOWERED, 'more connections open than the lowered limit')
  execFileSync('prlimit', ['--pid', String(child.pid), `--nofile=${LOWERED}:${LIMIT}`])
  // A memory sample needs a descriptor (it reads /proc): a metrics scrape over
  // the open keep-alive connection takes one, and so may a new connection's
  // accept. Tried until the server says so (a busy machine may take a while).
  const emfile = /out of file descriptors \(EMFILE\)/
  for (let i = 0; i < 40; i++) {
    if (lines.some((l) => emfile.test(l)) || child.exitCode !== null) break
    await call(base, keep, 'GET', '/metrics')
    await call(base, false)
  }
  const emfileLine = JSON.parse(await waitLine(emfile))
  t.equal(emfileLine.level, 40)
  t.not((await call(base, false)).status, 200, 'a new connection is shed')
  await served('at the limit')
  execFileSync('prlimit', ['--pid', String(child.pid), `--nofile=${LIMIT}:${LIMIT}`])

  const refused = closedByServer
  // Descriptors free up: each idle connection still open ends, and the server
  // closes its side in turn (the close the client sees is the server's
  // answer to the end), so once all are closed the server has let them go.
  await Promise.all(idle.filter((s) => !s.closed).map(async (s) => {
    const closed = once(s, 'close', LINE_WAIT_MS)
    s.end()
    await closed
  }))
  t.equal((await call(base, false)).status, 200, 'a new connection is served once the idle ones are gone')

  // Hundreds of refusals, a line per interval: the first at once, the rest counted in the next.
  const warnings = lines.filter((l) => /connection cap reached|out of file descriptors/.test(l))
  t.ok(warnings.length <= 4, `${warnings.length} warning lines for ${refused} refused connections`)
  t.equal(lines.filter((l) => /"level":50|"level":60/.test(l)).length, 0, 'no error logged')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'a clean exit afterwards')
})

t.test('descriptor helpers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'limits-'))
  const file = (text: string): string => { const p = join(dir, String(Math.random())); writeFileSync(p, text); return p }
  t.equal(descriptorLimit(file('Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n')), 1024)
  t.equal(descriptorLimit(file('Max open files            unlimited            unlimited            files\n')), undefined)
  t.equal(descriptorLimit(join(dir, 'missing')), undefined)
  t.ok((descriptorLimit() ?? 1) > 0)
  t.equal(connectionCap(256), 192)
  t.equal(connectionCap(100_000), 95_000)
  t.equal(connectionCap(64), undefined, 'too few to keep a reserve')

  let now = 0
  const reports: number[] = []
  const reporter = intervalReporter(1000, (count) => reports.push(count), () => now)
  t.teardown(() => reporter.close())
  reporter.note()
  t.same(reports, [1], 'the first at once')
  for (let i = 0; i < 50; i++) reporter.note()
  t.same(reports, [1], 'the rest wait for the interval')
  now = 1000
  await waitFor(() => reports.length === 2)
  t.same(reports, [1, 50], 'then are reported together')
})
