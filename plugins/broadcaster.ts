import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { WebSocket } from 'ws'
import type { Event } from '../schemas/events'

/**
 * The only thing that writes to WebSocket clients. Owning the set of sockets
 * here keeps serialization, framing and slow-client policy in one file.
 */
export interface Broadcaster {
  /** Connected clients. */
  readonly size: number
  /** Starts delivering events to a socket; it leaves the set when it closes. */
  add: (socket: WebSocket) => void
  /** Sends an event to every client. */
  broadcast: (event: Event) => Promise<void>
  /** Sends one frame to one client (replies, errors). */
  send: (socket: WebSocket, frame: object) => void
  /** Closes every client with the given code. */
  closeAll: (code: number, reason: string) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    broadcaster: Broadcaster
  }
}

export function createMemoryBroadcaster (): Broadcaster {
  const clients = new Set<WebSocket>()

  function write (socket: WebSocket, data: string): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(data)
  }

  return {
    get size () { return clients.size },
    add (socket) {
      clients.add(socket)
      socket.once('close', () => clients.delete(socket))
    },
    async broadcast (event) {
      // Serialized once for every client.
      const data = JSON.stringify(event)
      for (const socket of clients) write(socket, data)
    },
    send (socket, frame) {
      write(socket, JSON.stringify(frame))
    },
    closeAll (code, reason) {
      for (const socket of clients) socket.close(code, reason)
    }
  }
}

export default fp(async function broadcaster (fastify) {
  const broadcaster = createMemoryBroadcaster()
  fastify.decorate('broadcaster', broadcaster)

  await fastify.register(websocket, {
    // Going away: tell clients the server is shutting down, then stop accepting upgrades.
    preClose (done) {
      broadcaster.closeAll(1001, 'server shutting down')
      fastify.websocketServer.close(() => done())
    }
  })
}, { name: 'broadcaster', dependencies: ['config'] })
