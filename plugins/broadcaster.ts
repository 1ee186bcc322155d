import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { WebSocket } from 'ws'
import type { Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { Event } from '../schemas/events'
import type { GapFrame } from '../schemas/frames'
import type { Replay } from './store'
import { httpError } from './errors'
import { createRedisBroadcaster } from './redis-broadcaster'

/** Why a client left the set, for logs and metrics. */
export type DropReason = 'slow' | 'heartbeat' | 'replay_failed'

/**
 * The only thing that writes to WebSocket clients. Owning the set of sockets
 * here keeps serialization, framing and slow-client policy in one file.
 */
export interface Broadcaster {
  /** Connected clients. */
  readonly size: number
  /**
   * Starts delivering events to a socket; it leaves the set when it closes.
   * With `replay`, the events it returns are sent first, then live events,
   * none lost or doubled in between.
   */
  add: (socket: WebSocket, replay?: () => Promise<Replay>) => Promise<void>
  /** Sends an event to every client. */
  broadcast: (event: Event) => Promise<void>
  /** Sends one frame to one client (replies, errors). */
  send: (socket: WebSocket, frame: object) => void
  /** Stops the heartbeat and closes every client with the given code. */
  close: (code: number, reason: string) => void
  /** Called whenever the server cuts a client. */
  onDrop: (listener: (reason: DropReason) => void) => void
  /** Called after each batch of events has been written to every local client, with the time that took. */
  onFlush: (listener: (seconds: number) => void) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    broadcaster: Broadcaster
  }
}

export interface FanoutOptions {
  /** Unsent bytes above which a client is closed with 1013. */
  maxBufferedBytes: number
  /** Ping period; 0 turns the heartbeat off. */
  heartbeatMs: number
  log: FastifyBaseLogger
}

/** An event ready for the wire: serialized and framed once, for every client. */
interface Framed { id: string, frame: Buffer }

interface Client {
  socket: WebSocket
  /** The TCP socket under `socket`: framed events are written to it directly. */
  tcp: Writable
  /** Answered the last ping. */
  alive: boolean
  /** Live events held back while a replay is being read. */
  pending?: Framed[]
  /**
   * Ids just sent by a replay. A live event may still arrive for one of them
   * (it was stored before the replay was read, but handed over after); such
   * copies are skipped until the first live event that is not among them.
   */
  replayed?: Set<string>
}

/**
 * One unmasked WebSocket text frame, header and payload in one buffer. Built
 * once per event: every client then gets the same bytes.
 */
export function textFrame (payload: string): Buffer {
  const length = Buffer.byteLength(payload)
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, text
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2)
    frame.writeUInt32BE(length, 6)
  }
  frame.write(payload, header)
  return frame
}

const framed = (event: Event): Framed => ({ id: event.id, frame: textFrame(JSON.stringify(event)) })

// A client closed for being slow has stopped reading: its close frame may
// never be read, so the socket is destroyed if it lingers.
const CLOSE_GRACE_MS = 5000

const GAP_MESSAGE = 'the event asked for is not in the retained history; the whole retained history follows. ' +
  'Anything older is gone: reload from GET /alerts/history and GET /message'

/**
 * The local fan-out. Events broadcast during one turn of the event loop are
 * queued and written at its end (setImmediate) as one buffer per client: a
 * burst costs each client one write, not one per event. Frames go straight to
 * the TCP socket, which is safe because this server never compresses
 * (perMessageDeflate is off) and so ws never holds frames of its own back.
 */
export function createFanout ({ maxBufferedBytes, heartbeatMs, log }: FanoutOptions): Broadcaster {
  const clients = new Map<WebSocket, Client>()
  const dropListeners: Array<(reason: DropReason) => void> = []
  const flushListeners: Array<(seconds: number) => void> = []
  let queue: Framed[] = []
  let flushed: Promise<void> | undefined
  let resolveFlushed: () => void = () => {}

  /** Cuts a client: with a close code, or (none given) by destroying the socket at once. */
  function drop (client: Client, reason: DropReason, code?: number, text?: string): void {
    if (!clients.delete(client.socket)) return
    log.info({ reason, code, bufferedAmount: client.socket.bufferedAmount }, 'websocket client dropped')
    for (const listener of dropListeners) listener(reason)
    if (code === undefined) {
      client.socket.terminate()
      return
    }
    client.socket.close(code, text)
    setTimeout(() => client.socket.terminate(), CLOSE_GRACE_MS).unref()
  }

  /** Writes unless the client's backlog is already over the limit, in which case it is cut. */
  function write (client: Client, bytes: Buffer): void {
    if (client.socket.readyState !== WebSocket.OPEN) return
    if (client.socket.bufferedAmount > maxBufferedBytes) {
      drop(client, 'slow', 1013, 'too slow: backlog over limit')
      return
    }
    client.tcp.write(bytes)
  }

  /** Writes the events of `batch` this client has not had yet; ends its replay guard once one is new. */
  function writeAfterReplay (client: Client, batch: Framed[]): void {
    const fresh: Buffer[] = []
    for (const item of batch) {
      if (client.replayed?.has(item.id) === true) continue
      client.replayed = undefined
      fresh.push(item.frame)
    }
    if (fresh.length > 0) write(client, fresh.length === 1 ? fresh[0] as Buffer : Buffer.concat(fresh))
  }

  function flush (): void {
    const start = performance.now()
    const batch = queue
    const done = resolveFlushed
    queue = []
    flushed = undefined
    const all = batch.length === 1 ? (batch[0] as Framed).frame : Buffer.concat(batch.map((item) => item.frame))
    for (const client of clients.values()) {
      if (client.pending !== undefined) client.pending.push(...batch)
      else if (client.replayed !== undefined) writeAfterReplay(client, batch)
      else write(client, all)
    }
    const seconds = (performance.now() - start) / 1000
    for (const listener of flushListeners) listener(seconds)
    done()
  }

  function onPong (this: WebSocket): void {
    const client = clients.get(this)
    if (client !== undefined) client.alive = true
  }

  function onClose (this: WebSocket): void {
    clients.delete(this)
  }

  const heartbeat = heartbeatMs > 0
    ? setInterval(() => {
      for (const client of clients.values()) {
        if (!client.alive) {
          drop(client, 'heartbeat')
          continue
        }
        client.alive = false
        client.socket.ping()
      }
    }, heartbeatMs).unref()
    : undefined

  async function replayTo (client: Client, replay: () => Promise<Replay>): Promise<void> {
    try {
      const { found, events } = await replay()
      const frames: Buffer[] = []
      if (!found) frames.push(textFrame(JSON.stringify({ type: 'gap', message: GAP_MESSAGE } satisfies GapFrame)))
      const sent = new Set<string>()
      for (const event of events) {
        frames.push(textFrame(JSON.stringify(event)))
        sent.add(event.id)
      }
      const held = client.pending ?? []
      client.pending = undefined
      client.replayed = sent
      if (frames.length > 0) write(client, Buffer.concat(frames))
      // Handed over while the replay was read: send what the replay did not hold.
      writeAfterReplay(client, held)
    } catch (err) {
      client.pending = undefined
      log.error({ err }, 'websocket replay failed')
      write(client, textFrame(JSON.stringify({ type: 'error', code: 'server_error', message: 'history could not be read; reconnect later' })))
      drop(client, 'replay_failed', 1011, 'replay failed')
    }
  }

  return {
    get size () { return clients.size },

    async add (socket, replay) {
      const tcp = (socket as unknown as { _socket: Writable })._socket
      const client: Client = { socket, tcp, alive: true, pending: replay === undefined ? undefined : [] }
      clients.set(socket, client)
      // Shared listeners (`this` is the socket): nothing allocated per connection.
      socket.on('pong', onPong)
      socket.once('close', onClose)
      if (replay !== undefined) await replayTo(client, replay)
    },

    /** Queues the event for the end of this turn; resolves once it has been written to every client. */
    async broadcast (event) {
      queue.push(framed(event))
      if (flushed === undefined) {
        flushed = new Promise((resolve) => { resolveFlushed = resolve })
        setImmediate(flush)
      }
      await flushed
    },

    send (socket, frame) {
      const client = clients.get(socket)
      if (client !== undefined) write(client, textFrame(JSON.stringify(frame)))
    },

    close (code, reason) {
      clearInterval(heartbeat)
      for (const client of clients.values()) client.socket.close(code, reason)
    },

    onDrop (listener) {
      dropListeners.push(listener)
    },

    onFlush (listener) {
      flushListeners.push(listener)
    }
  }
}

export default fp(async function broadcaster (fastify) {
  const { WS_MAX_BUFFERED_BYTES, WS_HEARTBEAT_MS, WS_MAX_PAYLOAD, WS_MAX_CONNECTIONS } = fastify.config
  const fanout = createFanout({ maxBufferedBytes: WS_MAX_BUFFERED_BYTES, heartbeatMs: WS_HEARTBEAT_MS, log: fastify.log })
  // With Redis, events reach this instance's sockets through the cluster's channel.
  const broadcaster = fastify.redis === null ? fanout : createRedisBroadcaster({ fanout, redis: fastify.redis, log: fastify.log })
  fastify.decorate('broadcaster', broadcaster)

  await fastify.register(websocket, {
    // Frames over the limit close the connection with 1009.
    options: { maxPayload: WS_MAX_PAYLOAD },
    // Going away: tell clients the server is shutting down, then stop accepting upgrades.
    preClose (done) {
      broadcaster.close(1001, 'server shutting down')
      fastify.websocketServer.close(() => done())
    }
  })

  // Hooks added from here on see request.ws, and a refused upgrade's socket is
  // destroyed after the response: register this plugin before any plugin that
  // refuses upgrades (origin, auth, rate limits).
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.ws && broadcaster.size >= WS_MAX_CONNECTIONS) {
      reply.header('retry-after', '5')
      throw httpError(503, `connection limit (${WS_MAX_CONNECTIONS}) reached; retry later`)
    }
  })
}, { name: 'broadcaster', dependencies: ['config', 'redis'] })
