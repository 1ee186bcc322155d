import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import { build as buildApp } from '../app'

type Env = Record<string, string | number | boolean | undefined>
interface Teardown { teardown: (fn: () => unknown) => void }

// The ticker is off unless a test turns it on.
const testEnv: Env = { ALERT_INTERVAL_MS: 0 }

/** Builds the app exactly as server.ts does, with test config; closed when the test ends. */
export async function build (t: Teardown, env: Env = {}): Promise<FastifyInstance> {
  const fastify = buildApp(false, { env: { ...testEnv, ...env } })
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return fastify
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
