import type { Duplex } from 'node:stream'
import type { ErrorResponse } from '../../schemas/errors'

/** Writes an error response straight to a socket that has no Fastify reply (a refused handshake, a broken request). */
export function writeError (socket: Duplex, body: ErrorResponse, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body)
  const head = [
    `HTTP/1.1 ${body.statusCode} ${body.error}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  // Closed once written, whatever the client still sends.
  socket.once('finish', () => socket.destroy())
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`)
}
