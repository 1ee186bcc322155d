import { WebSocket } from 'ws'
import type { Teardown } from './app'
import { Inbox, WAIT_MS, once } from './wait'

/**
 * A real ws client that queues every JSON frame it receives, so a test can
 * wait for the next one without racing the socket.
 */
export class Client {
  readonly socket: WebSocket
  private readonly inbox = new Inbox<unknown>('frame')
  closed: Promise<{ code: number, reason: string }>

  constructor (url: string, options?: ConstructorParameters<typeof WebSocket>[2]) {
    this.socket = new WebSocket(url, options)
    this.socket.on('message', (data) => {
      this.inbox.push(JSON.parse(data.toString()))
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
    return await this.inbox.next(ms) as T
  }

  /** Frames received and not yet taken. */
  get pending (): number { return this.inbox.items.length }
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
