import { connect, type Socket } from 'node:net'
import { once, WAIT_MS } from './wait'
import type { Teardown } from './app'

export interface RawResponse { status: number, headers: Record<string, string>, body: string, text: string }

/** Parses what a server wrote before closing: the first response's status, headers and body. */
export function parseResponse (text: string): RawResponse {
  const [head = '', ...rest] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n'), text }
}

/**
 * Opens a plain TCP connection, writes `data`, and resolves with everything
 * the server sent once it closes the connection.
 */
export async function exchange (t: Teardown, port: number, data: string | Buffer, ms = WAIT_MS): Promise<RawResponse & { socket: Socket }> {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write(data)
  await once(socket, 'close', ms)
  return { ...parseResponse(Buffer.concat(chunks).toString()), socket }
}
