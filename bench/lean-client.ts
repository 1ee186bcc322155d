import { connect, type Socket } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'

/**
 * A minimal WebSocket client for load generation: a raw TCP socket, a
 * hand-written upgrade request and a frame parser that only does what a
 * receiver of server frames needs. The `ws` client validates UTF-8, builds a
 * Buffer and emits an event per message; that per-connection CPU would make
 * the load generator, not the server, the bottleneck at thousands of clients.
 */

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const CRLF2 = Buffer.from('\r\n\r\n')

// Every socket reads into this one buffer (net's `onread`): no Buffer is
// allocated per read and no 'data' event is emitted. Sharing it is safe
// because each read is fully handled, synchronously, before the next one.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

const OP_CONTINUATION = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9

/** Called for every complete text message: its payload is `buf[start, end)`, valid only during the call. */
export type TextHandler = (client: LeanClient, buf: Buffer, start: number, end: number, timeNs: number) => void

/** Nanoseconds on a monotonic clock, as a double (exact to well below a microsecond for days). */
const BASE = process.hrtime.bigint()
export function nowNs (): number {
  return Number(process.hrtime.bigint() - BASE)
}

/** How a connection ended, seen from the client. */
export interface Ending {
  /** Code of the close frame the server sent, if it sent one. */
  closeCode?: number
  closeReason?: string
  /** The server ended TCP (FIN) without a close frame. */
  fin: boolean
  /** Socket error code, e.g. ECONNRESET when the server reset the connection. */
  error?: string
  /** The client closed it itself. */
  local: boolean
}

export interface OpenOptions {
  host: string
  port: number
  path: string
  timeoutMs: number
  onText: TextHandler
  onEnd?: (client: LeanClient) => void
}

export class LeanClient {
  readonly socket: Socket
  open = false
  ended: Ending | undefined
  /** Binary frames received (the servers under test send none). */
  binaryFrames = 0
  /** Masked or unexpected frames from the server. */
  protocolErrors = 0

  private readonly key: string
  private handshakeDone = false
  private rest: Buffer | undefined
  private fragments: Buffer[] | undefined
  private closeSent = false
  private onOpen: ((err?: Error) => void) | undefined
  private readonly onText: TextHandler
  private readonly onEnd: ((client: LeanClient) => void) | undefined

  constructor (options: OpenOptions, onOpen: (err?: Error) => void) {
    this.onText = options.onText
    this.onEnd = options.onEnd
    this.onOpen = onOpen
    this.key = randomBytes(16).toString('base64')
    this.socket = connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => { this.onBytes(buf as Buffer, n); return true } }
    })
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${options.path} HTTP/1.1\r\n` +
        `Host: ${options.host}:${options.port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      )
    })
    this.socket.on('end', () => {
      const e = this.ending()
      if (e.closeCode === undefined) e.fin = true
      this.socket.destroy()
    })
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.ending().error = err.code ?? err.message
    })
    this.socket.on('close', () => {
      this.open = false
      this.ending()
      this.settleOpen(new Error(this.describeEnding()))
      this.onEnd?.(this)
    })
  }

  /** Stops reading: the server's writes pile up in the kernel, then in the server. */
  pause (): void { this.socket.pause() }
  resume (): void { this.socket.resume() }

  /** Closes abruptly (no close handshake): used to clear connections between runs. */
  destroy (): void {
    if (this.ended === undefined) this.ending().local = true
    this.socket.destroy()
  }

  describeEnding (): string {
    const e = this.ended
    if (e === undefined) return 'still open'
    if (e.closeCode !== undefined) return `close frame ${e.closeCode}`
    if (e.error !== undefined) return `socket error ${e.error}`
    if (e.fin) return 'server ended TCP without a close frame'
    return e.local ? 'closed by client' : 'closed'
  }

  private ending (): Ending {
    this.ended ??= { fin: false, local: false }
    return this.ended
  }

  private settleOpen (err?: Error): void {
    const cb = this.onOpen
    this.onOpen = undefined
    cb?.(err)
  }

  private onBytes (chunk: Buffer, n: number): void {
    const timeNs = nowNs()
    let data = chunk
    let len = n
    if (this.rest !== undefined) {
      data = Buffer.concat([this.rest, chunk.subarray(0, n)])
      len = data.length
      this.rest = undefined
    }
    let off = 0
    if (!this.handshakeDone) {
      const end = data.subarray(0, len).indexOf(CRLF2)
      if (end < 0) {
        this.keep(data, 0, len)
        return
      }
      if (!this.checkHandshake(data.toString('latin1', 0, end))) return
      off = end + 4
    }

    while (len - off >= 2) {
      const b0 = data[off] as number
      const b1 = data[off + 1] as number
      if ((b1 & 0x80) !== 0) {
        // A server must not mask its frames.
        this.protocolErrors++
        this.socket.destroy()
        return
      }
      let size = b1 & 0x7f
      let header = 2
      if (size === 126) {
        if (len - off < 4) break
        size = data.readUInt16BE(off + 2)
        header = 4
      } else if (size === 127) {
        if (len - off < 10) break
        size = data.readUInt32BE(off + 2) * 2 ** 32 + data.readUInt32BE(off + 6)
        header = 10
      }
      if (len - off < header + size) break
      const start = off + header
      const end = start + size
      off = end
      this.onFrame(b0, data, start, end, timeNs)
    }
    if (off < len) this.keep(data, off, len)
  }

  /** Keeps an incomplete frame (copied: `data` may be the shared read buffer). */
  private keep (data: Buffer, from: number, to: number): void {
    this.rest = Buffer.from(data.subarray(from, to))
  }

  private checkHandshake (head: string): boolean {
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1]
    const expected = createHash('sha1').update(this.key + WS_GUID).digest('base64')
    if (status !== '101' || accept !== expected) {
      this.settleOpen(new Error(status === '101' ? 'bad Sec-WebSocket-Accept' : `HTTP ${status ?? '?'}`))
      this.socket.destroy()
      return false
    }
    this.handshakeDone = true
    this.open = true
    this.settleOpen()
    return true
  }

  private onFrame (b0: number, data: Buffer, start: number, end: number, timeNs: number): void {
    const fin = (b0 & 0x80) !== 0
    const opcode = b0 & 0x0f
    switch (opcode) {
      case OP_TEXT:
        if (fin) this.onText(this, data, start, end, timeNs)
        else this.fragments = [Buffer.from(data.subarray(start, end))]
        return
      case OP_CONTINUATION:
        if (this.fragments === undefined) { this.protocolErrors++; return }
        this.fragments.push(Buffer.from(data.subarray(start, end)))
        if (fin) {
          const whole = Buffer.concat(this.fragments)
          this.fragments = undefined
          this.onText(this, whole, 0, whole.length, timeNs)
        }
        return
      case OP_BINARY:
        this.binaryFrames++
        return
      case OP_PING:
        // Answered so that a server heartbeat keeps this client.
        this.sendControl(0x8a, data.subarray(start, end))
        return
      case OP_CLOSE: {
        const e = this.ending()
        e.closeCode = end - start >= 2 ? data.readUInt16BE(start) : 1005
        e.closeReason = data.toString('utf8', Math.min(start + 2, end), end)
        // Echo the close; the server then ends TCP. Destroy if it does not.
        if (!this.closeSent) this.sendControl(0x88, data.subarray(start, Math.min(end, start + 2)))
        this.closeSent = true
        setTimeout(() => this.socket.destroy(), 2000).unref()
        break
      }
      default:
        // Pong or a reserved opcode: nothing to do.
    }
  }

  /** Sends a masked control frame (clients must mask), payload at most 125 bytes. */
  private sendControl (firstByte: number, payload: Buffer): void {
    if (this.socket.destroyed || this.closeSent) return
    const frame = Buffer.allocUnsafe(6 + payload.length)
    frame[0] = firstByte
    frame[1] = 0x80 | payload.length
    const mask = randomBytes(4)
    mask.copy(frame, 2)
    for (let i = 0; i < payload.length; i++) frame[6 + i] = (payload[i] as number) ^ (mask[i & 3] as number)
    this.socket.write(frame)
  }
}

/** Opens one client; resolves once the server answered 101 with the right accept key. */
export async function openClient (options: OpenOptions): Promise<LeanClient> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.destroy()
      reject(new Error('handshake timeout'))
    }, options.timeoutMs)
    const client: LeanClient = new LeanClient(options, (err) => {
      clearTimeout(timer)
      if (err === undefined) resolve(client)
      else reject(err)
    })
  })
}
