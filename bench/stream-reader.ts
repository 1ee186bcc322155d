import { connect, type Socket } from 'node:net'
import { nowNs } from './lean-client'

/**
 * A raw HTTP reader of GET /events for load generation: a TCP socket, a
 * hand-written request, the response head checked (200, text/event-stream),
 * then the chunked body decoded and split into SSE records (blank-line
 * separated), each handed over as text. No EventSource, no HTTP client: at a
 * hundred streams their per-event cost would be the load generator's, not the
 * server's.
 */

export type RecordHandler = (record: string, timeNs: number) => void

export interface StreamReaderOptions {
  host: string
  port: number
  path: string
  timeoutMs: number
  onRecord: RecordHandler
  onEnd?: () => void
}

export interface StreamReader {
  readonly socket: Socket
  open: boolean
  /** How it ended ('server ended the response', a socket error code, 'closed here'), or undefined while open. */
  ended: string | undefined
  destroy: () => void
}

/** Opens the stream; resolves once the response head (200) has arrived. */
export async function openStreamReader ({ host, port, path, timeoutMs, onRecord, onEnd }: StreamReaderOptions): Promise<StreamReader> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    socket.setNoDelay(true)
    const reader: StreamReader = { socket, open: false, ended: undefined, destroy: () => { finish('closed here'); socket.destroy() } }
    let head = ''
    let headDone = false
    // Undecoded bytes of the chunked body (latin1: one char per byte), and the decoded text not yet split into records.
    let raw = ''
    let body = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('stream open timed out')) }, timeoutMs)

    function finish (how: string): void {
      if (reader.ended !== undefined) return
      reader.ended = how
      reader.open = false
      clearTimeout(timer)
      onEnd?.()
    }

    function decode (t: number): void {
      for (;;) {
        const eol = raw.indexOf('\r\n')
        if (eol < 0) return
        const size = Number.parseInt(raw.slice(0, eol), 16)
        if (size === 0) { finish('server ended the response'); return }
        if (raw.length < eol + 2 + size + 2) return
        body += raw.slice(eol + 2, eol + 2 + size)
        raw = raw.slice(eol + 2 + size + 2)
        let end: number
        while ((end = body.indexOf('\n\n')) >= 0) {
          onRecord(body.slice(0, end), t)
          body = body.slice(end + 2)
        }
      }
    }

    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      const t = nowNs()
      if (!headDone) {
        head += chunk.toString('latin1')
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        const status = Number(head.slice(9, 12))
        if (status !== 200 || !/content-type: text\/event-stream/i.test(head) || !/transfer-encoding: chunked/i.test(head)) {
          socket.destroy()
          clearTimeout(timer)
          reject(new Error(`stream refused: ${head.slice(0, end).split('\r\n')[0] ?? ''}`))
          return
        }
        headDone = true
        reader.open = true
        clearTimeout(timer)
        raw = head.slice(end + 4)
        resolve(reader)
      } else {
        raw += chunk.toString('latin1')
      }
      decode(t)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code ?? err.message)
      if (!headDone) { clearTimeout(timer); reject(err) }
    })
    socket.on('close', () => finish('server closed the connection'))
  })
}
