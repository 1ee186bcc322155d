import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { WebSocket, WebSocketServer } from 'ws'

/**
 * The floor for fan-out: the project's POST /alerts and GET /ws contract on bare
 * node:http + ws, no framework. Each event is serialized once and handed to
 * ws.send for every client, the simplest correct broadcast.
 */

const BODY_LIMIT = 64 * 1024
const port = Number(process.env.PORT ?? 8000)
const host = process.env.HOST ?? '127.0.0.1'

function reply (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function fail (res: ServerResponse, status: number, error: string, message: string): void {
  reply(res, status, JSON.stringify({ statusCode: status, error, message }))
}

/** The field as a string of 1..max characters with a non-space, or an error message. */
function text (body: Record<string, unknown>, field: string, max: number): string | Error {
  const value = body[field]
  if (value === undefined) return new Error(`body/${field} is required`)
  if (typeof value !== 'string') return new Error(`body/${field} must be string`)
  if (value.length === 0 || value.length > max || !/\S/.test(value)) return new Error(`body/${field} must be 1 to ${max} characters, not blank`)
  return value
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })

function broadcast (data: string): void {
  for (const socket of wss.clients) {
    if (socket.readyState === WebSocket.OPEN) socket.send(data)
  }
}

function postAlert (req: IncomingMessage, res: ServerResponse): void {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    fail(res, 415, 'Unsupported Media Type', 'send application/json')
    req.resume()
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  req.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size <= BODY_LIMIT) chunks.push(chunk)
  })
  req.on('end', () => {
    if (size > BODY_LIMIT) return fail(res, 413, 'Payload Too Large', 'body over 64 KiB')
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      return fail(res, 400, 'Bad Request', 'body is not valid JSON')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail(res, 400, 'Bad Request', 'body must be object')
    }
    const message = text(body as Record<string, unknown>, 'message', 1000)
    if (message instanceof Error) return fail(res, 400, 'Bad Request', message.message)
    const location = text(body as Record<string, unknown>, 'location', 200)
    if (location instanceof Error) return fail(res, 400, 'Bad Request', location.message)

    // Same fields in the same order as the project's events, so frames are the same size.
    const data = JSON.stringify({ id: randomUUID(), timestamp: new Date().toISOString(), type: 'alert', message, location })
    broadcast(data)
    reply(res, 200, data)
  })
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method === 'POST' && (path === '/alerts' || path === '/alerts/')) return postAlert(req, res)
  if (path === '/ws') return fail(res, 426, 'Upgrade Required', 'GET /ws is a WebSocket endpoint')
  fail(res, 404, 'Not Found', `Route ${req.method ?? ''}:${req.url ?? ''} not found`)
})

server.on('upgrade', (req, socket, head) => {
  if ((req.url ?? '').split('?')[0] !== '/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    return
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    // Incoming frames are not part of what is measured; they are read and dropped.
    ws.on('message', () => {})
  })
})

process.on('SIGTERM', () => {
  for (const socket of wss.clients) socket.close(1001, 'server shutting down')
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 5000).unref()
})

server.listen(port, host, () => {
  console.log(`reference-server listening on http://${host}:${port}`)
})
