/**
 * The one module that relies on what ws and @fastify/websocket do inside,
 * beyond their documented APIs. Everything here is checked: `checkWsInternals`
 * runs at start-up (and in test/ws-internals.test.ts), and each function
 * falls back to the public path when its assumption does not hold, so an
 * upgrade of either library costs speed or memory, never delivery.
 *
 * 1. Direct writes. The fan-out writes pre-built frames (framing.ts) straight
 *    to the TCP socket of a connection, one write per client per turn, instead
 *    of ws's `send` per event. That is sound only while ws has no frames of
 *    its own queued, which holds when no extension (permessage-deflate) was
 *    negotiated: ws' Sender then writes each frame to the socket at once
 *    (ws lib/sender.js, `sendFrame` / `dispatch` queue only while compressing).
 *    The backlog is then the socket's public `writableLength`.
 * 2. Releasing the upgrade. @fastify/websocket keeps a ServerResponse assigned
 *    to the upgraded socket for routing (index.js, `onUpgrade`:
 *    `rawResponse.assignSocket(socket)`) and adds an 'error' listener to the
 *    WebSocket that closes over the Fastify request and reply (index.js, the
 *    route handler's `socket.on('error', ...)`). Both would keep several KiB per
 *    connection alive for its whole life; they are let go and the listener is
 *    replaced by one doing the same (log, cut).
 */
import type { Socket } from 'node:net'
import type { ServerResponse } from 'node:http'
import { WebSocket } from 'ws'

/** Options of the WebSocket server (plugins/external/websocket.ts), which the check below reads: compression stays off. */
export const wsServerOptions = (maxPayload: number): { maxPayload: number, perMessageDeflate: false } =>
  ({ maxPayload, perMessageDeflate: false })

/** What start-up checks: a list of broken assumptions (empty when all hold). */
export function checkWsInternals (serverOptions: { perMessageDeflate?: unknown }): string[] {
  const problems: string[] = []
  if (serverOptions.perMessageDeflate !== undefined && serverOptions.perMessageDeflate !== false) {
    problems.push('permessage-deflate is enabled: ws may queue compressed frames, so frames are sent through ws instead of written directly')
  }
  const proto = WebSocket.prototype as object
  for (const name of ['extensions', 'bufferedAmount', 'readyState']) {
    if (Object.getOwnPropertyDescriptor(proto, name)?.get === undefined) problems.push(`ws's WebSocket has no "${name}" getter`)
  }
  return problems
}

/**
 * The TCP socket to write framed events to directly, or undefined when the
 * connection must go through `socket.send` (an extension was negotiated, or
 * the socket is not the one ws writes to).
 */
export function directSocket (socket: WebSocket, tcp: Socket, allowed: boolean): Socket | undefined {
  if (!allowed || socket.extensions !== '') return undefined
  const own = (socket as unknown as { _socket?: unknown })._socket
  return own === tcp ? tcp : undefined
}

/**
 * Lets go of the upgrade's HTTP objects (see 2. above): detaches the routing
 * response from the socket, and swaps @fastify/websocket's 'error' listener
 * for `onError`.
 */
export function releaseUpgrade (socket: WebSocket, response: ServerResponse | undefined, tcp: Socket, onError: (err: Error) => void): void {
  if (response?.socket === tcp) response.detachSocket(tcp)
  socket.removeAllListeners('error')
  socket.on('error', onError)
}
