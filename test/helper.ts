import type { FastifyInstance, InjectOptions } from 'fastify'
import { WebSocket } from 'ws'
import { Writable } from 'node:stream'
import { build as buildApp, loggerOptions } from '../app'

type Env = Record<string, string | number | boolean | undefined>
export interface Teardown { teardown: (fn: () => unknown) => void }

// The ticker is off and the rate limit out of reach unless a test says otherwise.
const testEnv: Env = { ALERT_INTERVAL_MS: 0, RATE_LIMIT_MAX: 1_000_000 }

/** Builds the app exactly as server.ts does, with test config; closed when the test ends. */
export async function build (t: Teardown, env: Env = {}): Promise<FastifyInstance> {
  const fastify = buildApp(false, { env: { ...testEnv, ...env } })
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return fastify
}

/**
 * Builds the app with the production logger options, writing JSON lines into
 * `lines`. `extend` may add routes before the app is ready.
 */
export async function buildLogged (t: Teardown, env: Env = {}, extend?: (fastify: FastifyInstance) => void): Promise<{ fastify: FastifyInstance, lines: Array<Record<string, unknown>>, text: () => string }> {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) { raw.push(line); lines.push(JSON.parse(line)) }
      done()
    }
  })
  const fastify = buildApp({ ...(loggerOptions('info') as object), stream }, { env: { ...testEnv, ...env } })
  extend?.(fastify)
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return { fastify, lines, text: () => raw.join('\n') }
}

/** Builds the app and listens on a free loopback port; returns its base URL too. */
export async function listen (t: Teardown, env: Env = {}): Promise<{ fastify: FastifyInstance, url: string, wsUrl: string }> {
  const fastify = await build(t, env)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { fastify, url: `http://127.0.0.1:${address.port}`, wsUrl: `ws://127.0.0.1:${address.port}` }
}

const WAIT_MS = 5000

/** Resolves when `emitter` emits `event`, or rejects after a timeout. */
export function once<T = unknown> (emitter: NodeJS.EventEmitter, event: string, ms = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent)
      reject(new Error(`timed out waiting for ${event}`))
    }, ms)
    function onEvent (value: T): void {
      clearTimeout(timer)
      resolve(value)
    }
    emitter.once(event, onEvent)
  })
}

/** Resolves once `condition()` holds (checked every few ms), or rejects after a timeout. */
export async function waitFor (condition: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * A real ws client that queues every JSON frame it receives, so a test can
 * wait for the next one without racing the socket.
 */
export class Client {
  readonly socket: WebSocket
  private readonly frames: unknown[] = []
  private waiter: (() => void) | undefined
  closed: Promise<{ code: number, reason: string }>

  constructor (url: string, options?: ConstructorParameters<typeof WebSocket>[2]) {
    this.socket = new WebSocket(url, options)
    this.socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      this.waiter?.()
    })
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
  }

  static async open (url: string, t: Teardown, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<Client> {
    const client = new Client(url, options)
    t.teardown(() => client.socket.terminate())
    await once(client.socket, 'open')
    return client
  }

  send (frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next frame, waiting for it up to `ms`. */
  async next<T = Record<string, unknown>> (ms = WAIT_MS): Promise<T> {
    const deadline = Date.now() + ms
    while (this.frames.length === 0) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for a frame')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => { clearTimeout(timer); resolve() }
      })
      this.waiter = undefined
    }
    return this.frames.shift() as T
  }

  /** Frames received and not yet taken. */
  get pending (): number { return this.frames.length }
}

type Rejection = [name: string, request: { payload?: InjectOptions['payload'], headers?: Record<string, string> }, status: number, message: RegExp]

/**
 * One subtest per way a body can be wrong (see `rejections`): each POST to
 * `url` must get its status and words in the one JSON error shape, and
 * `history` must still answer `empty` afterwards.
 */
export function testRejections (tap: typeof import('tap'), url: string, limits: Record<string, number>, history: string, empty: unknown): void {
  for (const [name, request, status, message] of rejections(limits)) {
    tap.test(`POST ${url} rejects ${name} with ${status}, and stores nothing`, async (t) => {
      const app = await build(t)
      const res = await app.inject({ method: 'POST', url, ...request })
      t.equal(res.statusCode, status)
      const body = res.json()
      t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode'])
      t.equal(body.statusCode, status)
      t.match(body.message, message)
      t.same((await app.inject(history)).json(), empty)
    })
  }
}

/**
 * Bad requests for a JSON route whose body is an object of non-blank strings
 * with the given maximum lengths: every way a body can be wrong, with the
 * status and the words of the error expected for each.
 */
export function rejections (limits: Record<string, number>): Rejection[] {
  const fields = Object.keys(limits)
  const valid = Object.fromEntries(fields.map((f) => [f, 'ok']))
  const json = { 'content-type': 'application/json' }
  const out: Rejection[] = []
  for (const [field, max] of Object.entries(limits)) {
    const without = { ...valid }
    delete without[field]
    out.push(
      [`missing ${field}`, { payload: without }, 400, new RegExp(`body/${field} is required`)],
      [`number ${field}`, { payload: { ...valid, [field]: 123 } }, 400, new RegExp(`body/${field} must be string`)],
      [`null ${field}`, { payload: { ...valid, [field]: null } }, 400, new RegExp(`body/${field} must be string`)],
      [`object ${field}`, { payload: { ...valid, [field]: { a: 1 } } }, 400, new RegExp(`body/${field} must be string`)],
      [`array ${field}`, { payload: { ...valid, [field]: ['ok'] } }, 400, new RegExp(`body/${field} must be string`)],
      [`empty ${field}`, { payload: { ...valid, [field]: '' } }, 400, new RegExp(`body/${field} must not be empty`)],
      [`blank ${field}`, { payload: { ...valid, [field]: ' \t\n ' } }, 400, new RegExp(`body/${field} must not be blank`)],
      [`${field} over ${max} characters`, { payload: { ...valid, [field]: 'x'.repeat(max + 1) } }, 400, new RegExp(`body/${field} must be at most ${max} characters`)]
    )
  }
  out.push(
    ['empty object', { payload: {} }, 400, /is required/],
    ['array body', { payload: [valid] }, 400, /body must be object/],
    ['string body', { payload: '"hello"', headers: json }, 400, /body must be object/],
    ['null body', { payload: 'null', headers: json }, 400, /body must be object/],
    ['broken JSON', { payload: '{"a": "b",', headers: json }, 400, /not valid JSON/],
    ['empty JSON body', { payload: '', headers: json }, 400, /empty/i],
    ['no body at all', {}, 400, /body must be object/],
    ['form body', { payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /application\/json/],
    ['text body', { payload: 'hello', headers: { 'content-type': 'text/plain' } }, 415, /text\/plain/],
    ['body over 64 KiB', { payload: JSON.stringify({ ...valid, pad: 'x'.repeat(70 * 1024) }), headers: json }, 413, /too large/i]
  )
  return out
}

/** Debian's chromium driven by playwright-core; closed when the test ends. */
export async function launchBrowser (t: Teardown): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(async () => await browser.close())
  return browser
}

/** Tries an upgrade that the server should refuse; resolves with the HTTP status and JSON body. */
export async function refusedUpgrade (url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<{ status: number, body: Record<string, unknown> }> {
  const socket = new WebSocket(url, options)
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the refusal')), WAIT_MS)
    socket.once('open', () => { clearTimeout(timer); socket.terminate(); reject(new Error('the upgrade was accepted')) })
    socket.once('unexpected-response', (req, res) => {
      let data = ''
      res.on('data', (c: Buffer) => { data += c.toString() })
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) })
      })
    })
    socket.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}
