import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { once, Inbox } from './wait'

/** One request a receiver got. */
export interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
}

/** How a receiver answers its nth request (1 for the first): a status, or 'hang' (never answers). */
export type Answer = (n: number, request: Received) => number | 'hang'

export interface TestReceiver {
  /** The base URL, http://127.0.0.1:port */
  url: string
  /** Every request, in arrival order. */
  requests: Received[]
  /** The requests a test has not taken yet. */
  inbox: Inbox<Received>
  /** Changes how the next requests are answered. */
  answer: (next: Answer) => void
}

/** A real HTTP receiver on loopback, closed when the test ends (connections it holds included). */
export async function httpReceiver (t: { teardown: (fn: () => unknown) => void }, answer: Answer = () => 200): Promise<TestReceiver> {
  const requests: Received[] = []
  const inbox = new Inbox<Received>('request')
  const hanging: ServerResponse[] = []
  let current = answer
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const received: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() }
      requests.push(received)
      const status = current(requests.length, received)
      if (status === 'hang') hanging.push(res)
      else res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no')
      inbox.push(received)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${address.port}`, requests, inbox, answer: (next) => { current = next } }
}
