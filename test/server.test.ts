import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'node:http'
import { connect } from 'node:net'
import { type Teardown } from './helpers/app'
import { once, waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { redisEnv, redisTest } from './helpers/redis'
import { hashToken } from '../plugins/core/credentials'
import { httpReceiver } from './helpers/receivers'

const ROOT = resolve(__dirname, '..')
// How long a server process may take to print a line, or a build to finish.
const LINE_WAIT_MS = 60_000
const BUILD_WAIT_MS = 180_000
// tap follows spawned processes to collect their coverage; these run the
// compiled dist/, whose coverage would blur the report.
const NO_COVERAGE = { _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }

// Every test runs its own processes, each in its own directory on a port of
// its own: they run side by side, so the file takes about as long as its
// slowest test (mostly waiting on processes), not the sum.
t.jobs = 4
// A dozen process starts and a build: minutes on a loaded machine, far more
// than the tap config's per-file default.
t.setTimeout(600_000)

/**
 * A copy of what `npm start` builds, in a scratch directory: its build writes
 * that copy's dist/, never the dist/ of the tree other tests run from.
 */
function buildableCopy (): string {
  const dir = mkdtempSync(join(tmpdir(), 'alert-server-start-'))
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'app.ts', 'server.ts', 'schemas', 'plugins', 'routes', 'scripts', 'public']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

// The processes run what production runs, dist/server.js, built once here by
// `npm run build` in a copy; the last test runs `npm start` in that same copy,
// where the (incremental) build finds everything up to date.
const COPY = buildableCopy()
const SERVER = join(COPY, 'dist', 'server.js')
t.before(async () => {
  const build = spawn('npm', ['run', 'build'], { cwd: COPY, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...NO_COVERAGE }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  build.stdout.on('data', (c: Buffer) => { out += c.toString() })
  build.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const code = await once<number | null>(build, 'exit', BUILD_WAIT_MS)
  if (code !== 0) throw new Error(`npm run build failed (${String(code)}):\n${out}`)
})

interface Proc { child: ChildProcess, lines: string[], exited: Promise<number | null>, waitLine: (re: RegExp) => Promise<string> }

// No shedding on event-loop delay in these processes: on a busy machine the
// start-up itself can pass it, and an upgrade or a request would get a 503
// that has nothing to do with what a test checks. (The overload guard has
// tests of its own: test/health.test.ts, test/descriptors.test.ts.)
const NO_SHEDDING = { MAX_EVENT_LOOP_DELAY_MS: '0' }

/** Runs server.ts as its own process, in a directory holding the given .env. */
function start (t: Teardown, dotenv: string, env: Record<string, string> = {}, cwd = mkdtempSync(join(tmpdir(), 'alert-server-'))): Proc {
  writeFileSync(join(cwd, '.env'), dotenv)
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...NO_COVERAGE, ...NO_SHEDDING, ...env },
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

t.test('SIGHUP re-reads NOTIFY_FILE and keeps serving; a bad NOTIFY_FILE stops start-up with one line', async (t) => {
  const hook = await httpReceiver(t)
  const dir = mkdtempSync(join(tmpdir(), 'alert-notify-'))
  // The file the server is given is a symlink into another directory: a
  // change of the target is not seen by the watch of the link's directory,
  // so only SIGHUP can make the server read it again.
  const target = join(mkdtempSync(join(tmpdir(), 'alert-notify-target-')), 'notify.yml')
  writeFileSync(target, `receivers: { one: { webhook: { url: "${hook.url}/one" } } }\nroutes: [{ to: [one] }]\n`)
  symlinkSync(target, join(dir, 'notify.yml'))
  const p = start(t, `PORT=0\nALERT_INTERVAL_MS=0\nSTORE=memory\nNOTIFY_FILE=${join(dir, 'notify.yml')}\n`)
  const base = await listening(p)
  const post = async (message: string): Promise<void> => {
    const res = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, location: 'x' }) })
    t.equal(res.status, 200)
  }
  await post('first')
  t.equal((await hook.inbox.next()).path, '/one')
  const loaded = (): number => p.lines.filter((l) => l.includes('"msg":"NOTIFY_FILE loaded"')).length
  t.equal(loaded(), 1, 'start-up says it loaded the file')
  writeFileSync(target, `receivers: { two: { webhook: { url: "${hook.url}/two" } } }\nroutes: [{ to: [two] }]\n`)
  p.child.kill('SIGHUP')
  await waitFor(() => loaded() === 2)
  await post('second')
  t.match(await hook.inbox.next(), { path: '/two', body: /"message":"second"/ })
  t.notOk(p.lines.some((l) => /shutting down/.test(l)), 'SIGHUP never stops the server')

  writeFileSync(target, 'receivers: { two: { webhook: { url: "http://x" } } }\nroutes: [{ to: [three] }]\n')
  const bad = start(t, `PORT=0\nALERT_INTERVAL_MS=0\nSTORE=memory\nNOTIFY_FILE=${target}\n`)
  t.equal(await bad.exited, 1)
  t.same(bad.lines, [`Cannot start: NOTIFY_FILE ${target}:2: routes[0].to names "three", which is not one of the receivers`])
})

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: clients get 1001, the in-flight request finishes, the process exits 0`, async (t) => {
    // At debug: the request's "incoming request" line says it is in flight.
    const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\nLOG_LEVEL=debug\n')
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

/** A request to a server process, with a bearer token ('' for none); the status and the JSON body. */
async function call (base: string, path: string, token: string, body?: object): Promise<{ status: number, body: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(token === '' ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() }
}

t.test('SIGHUP re-reads TOKENS_FILE and keeps serving: alerts kept, sockets open, a new token accepted', async (t) => {
  // TOKENS_FILE is a symlink to a file in another directory, which the
  // directory watch cannot see: only SIGHUP can bring its change in.
  const real = join(mkdtempSync(join(tmpdir(), 'alert-server-real-')), 'tokens.json')
  const ops = { name: 'ops', scopes: ['admin'], hash: hashToken('ops-token') }
  writeFileSync(real, JSON.stringify([ops]))
  const file = join(mkdtempSync(join(tmpdir(), 'alert-server-link-')), 'tokens.json')
  symlinkSync(real, file)
  const p = start(t, `PORT=0\nALERT_INTERVAL_MS=0\nTOKENS_FILE=${file}\n`)
  const base = await listening(p)
  t.equal((await call(base, '/alerts', 'ops-token', { message: 'before the reload', location: 'door' })).status, 200)
  const client = await Client.open(`${base.replace('http', 'ws')}/ws?token=ops-token`, t)
  t.equal((await call(base, '/whoami', 'late-token')).status, 401, 'not yet an entry')

  writeFileSync(real, JSON.stringify([ops, { name: 'late', scopes: ['subscribe'], hash: hashToken('late-token') }]))
  p.child.kill('SIGHUP')
  await p.waitLine(/TOKENS_FILE loaded/)
  t.match((await call(base, '/whoami', 'late-token')).body, { name: 'late', scopes: ['subscribe'] }, 'the reload took the new entry')
  t.match((await call(base, '/alerts/history', 'ops-token')).body, { alerts: [{ message: 'before the reload' }], count: 1 }, 'the alerts in memory are still there')
  t.equal((await call(base, '/alerts', 'ops-token', { message: 'after the reload', location: 'door' })).status, 200)
  t.match(await client.next(), { type: 'alert', message: 'after the reload' }, 'the socket opened before the signal still receives')
  t.notMatch(p.lines.join('\n'), /shutting down/)

  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
})

t.test('SIGHUP without TOKENS_FILE (nothing to re-read) does not stop the server either', async (t) => {
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
  const base = await listening(p)
  t.equal((await call(base, '/alerts', '', { message: 'kept', location: 'door' })).status, 200)
  p.child.kill('SIGHUP')
  await p.waitLine(/"signal":"SIGHUP".*reloading/)
  t.match((await call(base, '/alerts/history', '')).body, { alerts: [{ message: 'kept' }], count: 1 })
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
  t.notMatch(p.lines.join('\n'), /"signal":"SIGHUP".*shutting down/)
})

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
  // Alerts only: each tick also resolves the one before (an alert_update).
  const client = await Client.open(`${base.replace('http', 'ws')}/ws?types=alert`, t)
  t.match(await client.next(), { type: 'alert', message: 'From the env file', location: 'From the environment' })
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
})

t.test('an invalid value stops start-up with one line naming the variable and what is allowed', async (t) => {
  const p = start(t, 'RATE_LIMIT_WINDOW=soon\n', { LOG_LEVEL: 'loud' })
  t.equal(await p.exited, 1)
  t.same(p.lines, ['Cannot start: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud"); ' +
    'RATE_LIMIT_WINDOW must be milliseconds, or a positive duration such as "1 minute", "30 s", "2 hours" (got "soon")'])
})

t.test('on start, one line says where the dashboard and docs are, the mode, and whether tokens are required', async (t) => {
  const open = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
  const base = await listening(open)
  const line = JSON.parse(await open.waitLine(/Alert server ready/)) as { msg: string }
  t.match(line.msg, new RegExp(`^Alert server ready: dashboard ${base}/, docs ${base}/docs; events in /\\S+/data/alerts\\.db; no token required$`))
  open.child.kill('SIGTERM')
  t.equal(await open.exited, 0)

  const guarded = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\nAPI_TOKEN=secret\nSTORE=memory\n')
  t.match(await guarded.waitLine(/Alert server ready/), /events in memory \(nothing kept across restarts\); token required \(API_TOKEN\)"/)
  t.notMatch(guarded.lines.join('\n'), /secret/)
  guarded.child.kill('SIGTERM')
  t.equal(await guarded.exited, 0)

  // A tokens file alone guards every route too, and the line says so.
  const file = join(mkdtempSync(join(tmpdir(), 'alert-server-tokens-')), 'tokens.json')
  writeFileSync(file, JSON.stringify([{ name: 'lobby', scopes: ['subscribe'], hash: hashToken('lobby-token') }]))
  const byFile = start(t, `PORT=0\nALERT_INTERVAL_MS=0\nTOKENS_FILE=${file}\n`)
  t.match(await byFile.waitLine(/Alert server ready/), /events in \S+alerts\.db; token required \(TOKENS_FILE\)"/)
  byFile.child.kill('SIGTERM')
  t.equal(await byFile.exited, 0)
})

t.test('a misspelt setting, in the environment or in .env, is named at start with the setting it resembles', async (t) => {
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\nTOKEN_FILE=/etc/alerts/tokens.json\n', { LOGLEVEL: 'debug' })
  t.match(await p.waitLine(/TOKEN_FILE/), /"level":40,.*"msg":"TOKEN_FILE is not a setting of this server and is ignored: did you mean TOKENS_FILE\?"/)
  t.match(await p.waitLine(/LOGLEVEL/), /did you mean LOG_LEVEL\?/)
  await p.waitLine(/Alert server ready/)
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
})

t.test('a port already in use stops start-up with one line and exit code 1', async (t) => {
  const first = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n')
  const base = await listening(first)
  const port = new URL(base).port
  const second = start(t, `PORT=${port}\nALERT_INTERVAL_MS=0\n`)
  t.equal(await second.exited, 1)
  t.same(second.lines, [`Cannot start: port ${port} is already in use (set PORT)`])
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
})

t.test('an unknown host stops start-up with one line and exit code 1', async (t) => {
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\nHOST=no-such-host.invalid\n')
  t.equal(await p.exited, 1)
  t.same(p.lines, ['Cannot start: host no-such-host.invalid cannot be resolved (set HOST)'])
})

t.test('SIGTERM: a WebSocket peer that never answers the close is cut after the grace, and the exit is 0', async (t) => {
  // No shedding on event-loop delay: on a busy machine the start-up itself
  // can pass it, and the upgrade would get a 503.
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\nMAX_EVENT_LOOP_DELAY_MS=0\n')
  const base = await listening(p)
  // A raw client: completes the handshake, then never reads or answers.
  const peer = connect(Number(new URL(base).port), '127.0.0.1')
  t.teardown(() => peer.destroy())
  await once(peer, 'connect')
  peer.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  const head = await once<Buffer>(peer, 'data')
  t.match(head.toString(), /^HTTP\/1\.1 101/)
  const received: Buffer[] = []
  peer.on('data', (c: Buffer) => received.push(c))
  await p.waitLine(/websocket connected/)
  const signalled = Date.now()
  p.child.kill('SIGTERM')
  await once(peer, 'close', 15_000)
  const code = await p.exited
  const ms = Date.now() - signalled
  t.equal(code, 0, 'a clean exit, not the hard limit')
  t.ok(ms < 10_000, `exited after ${ms} ms, within the documented 10 s`)
  // The close frame (opcode 8) with 1001 was sent before the socket was cut.
  const frames = Buffer.concat(received)
  const close = frames.indexOf(0x88)
  t.ok(close >= 0, 'a close frame was sent')
  t.equal(frames.readUInt16BE(close + 2), 1001)
})

t.test('Ctrl+C on `npm start` (SIGINT to the whole process group) shuts the server down gracefully', async (t) => {
  const child = spawn('npm', ['start'], {
    cwd: COPY,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ALERT_INTERVAL_MS: '0', LOG_LEVEL: 'info', ...NO_COVERAGE, ...NO_SHEDDING },
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

redisTest('the build carries the Lua scripts: node dist/server.js publishes and reads through Redis', async (t) => {
  const env = Object.fromEntries(Object.entries(redisEnv(t)).map(([name, value]) => [name, String(value)]))
  const p = start(t, 'PORT=0\nALERT_INTERVAL_MS=0\n', env)
  const base = await Promise.race([listening(p), p.exited.then((code) => { throw new Error(`exited ${String(code)}: ${p.lines.join('\n')}`) })])
  const posted = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'from dist', location: 'lua' }) })
  t.equal(posted.status, 200, 'append.lua ran')
  t.match(await (await fetch(`${base}/alerts/history`)).json(), { alerts: [{ message: 'from dist' }], count: 1 }, 'read-alerts.lua ran')
})

t.test('the build carries the token command: node dist/scripts/token.js works where devDependencies (tsx) are pruned', async (t) => {
  const child = spawn(process.execPath, [join(COPY, 'dist', 'scripts', 'token.js'), '--name', 'lobby', '--scopes', 'subscribe'], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...NO_COVERAGE },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  t.equal(await once<number | null>(child, 'exit', LINE_WAIT_MS), 0)
  const [, token, entry] = /shown once[^\n]*\n(\S+)\n[\s\S]*TOKENS_FILE[^\n]*\n(\{.*\})\n$/.exec(out) ?? []
  t.ok(token !== undefined && entry !== undefined, 'the token and its entry were printed')
  t.same(JSON.parse(entry ?? '{}'), { name: 'lobby', scopes: ['subscribe'], hash: hashToken(token ?? '') })
})

/** Posts `count` alerts, `concurrency` at a time, until `stop` says so; the ids answered 2xx. */
async function burst (base: string, count: number, concurrency: number, stop: (answered: number) => boolean): Promise<string[]> {
  const ids: string[] = []
  let next = 0
  async function worker (): Promise<void> {
    while (next < count && !stop(ids.length)) {
      const i = next++
      try {
        const res = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `burst ${i}`, location: 'load', key: i % 5 === 0 ? `k${i}` : undefined }) })
        if (res.ok) ids.push(((await res.json()) as { id: string }).id)
      } catch {
        // The process went away mid-request: that answer never came.
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ids
}

/** Every alert the server holds now, from its export. */
async function exported (base: string): Promise<Array<{ id: string }>> {
  const text = await (await fetch(`${base}/alerts/export`)).text()
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: string })
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  t.test(`${signal} during a burst of publishes: after a restart, every alert answered 2xx is there, each with its event`, async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'alert-server-'))
    const dotenv = 'PORT=0\nALERT_INTERVAL_MS=0\nMAX_EVENT_LOOP_DELAY_MS=0\n'
    const first = start(t, dotenv, {}, cwd)
    const base = await listening(first)
    let killed = false
    const ids = await burst(base, 2000, 16, (answered) => {
      if (answered >= 150 && !killed) {
        killed = true
        first.child.kill(signal)
      }
      return killed
    })
    await first.exited
    t.ok(ids.length >= 150, `${ids.length} answered 2xx before the ${signal}`)
    const second = start(t, dotenv, {}, cwd)
    const again = await listening(second)
    const kept = new Set((await exported(again)).map((a) => a.id))
    const lost = ids.filter((id) => !kept.has(id))
    t.same(lost, [], 'no alert answered 2xx is lost')
    for (const id of ids.slice(0, 20)) {
      const timeline = await (await fetch(`${again}/alerts/${id}/timeline`)).json() as { timeline: Array<{ kind: string }> }
      t.equal(timeline.timeline[0]?.kind, 'raised', `${id} has its raising event`)
    }
    second.child.kill('SIGTERM')
    t.equal(await second.exited, 0)
  })
}
