import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import type { EventFilter } from './event-filter'
import { frameRecord, textFrame, type StreamFormat } from './framing'
import type { Identity, Lapse } from './credentials'

/** Why a client left the set, for logs and metrics. */
export type DropReason = 'slow' | 'heartbeat' | 'replay_failed' | 'invalid_frames' | Lapse

/** How a subscriber is reached: everything else (replay, filters, limits, shutdown) is the same for all. */
export type Transport = 'websocket' | StreamFormat
export const TRANSPORTS: readonly Transport[] = ['websocket', 'sse', 'ndjson']

/** An HTTP response that carries events (GET /events): Server-Sent Events or NDJSON. */
export interface HttpStream {
  format: StreamFormat
  /** Its head already written; ended when the subscriber is dropped or the server shuts down. */
  response: ServerResponse
}

/** A WebSocket, or an HTTP stream. */
export type Subscriber = WebSocket | HttpStream

/** An event ready for the wire of one transport: serialized and framed once, for every client of it. */
export interface Framed { id: string, json: string, frame: Buffer }

/** The clients of one transport with one filter: they get the same bytes each turn. */
export interface Group {
  key: string
  transport: Transport
  filter: EventFilter | undefined
  clients: Set<Client>
}

/** One subscriber as the fan-out holds it. */
export interface Client {
  subscriber: Subscriber
  /** The WebSocket, for a WebSocket client. */
  socket: WebSocket | undefined
  /** The response, for an HTTP stream. */
  response: ServerResponse | undefined
  /** Its transport and filter (`group.transport`). */
  group: Group
  /** Who it is, when credentials are configured: dropped when that lapses. */
  identity: Identity | undefined
  /** Set when framed events are written straight to the TCP socket; otherwise they go through ws. */
  tcp: Socket | undefined
  /** Answered the last ping. */
  alive: boolean
  /** Live events held back while a replay is being read or sent. */
  pending?: Framed[]
  /** Bytes of `pending`: past the backlog limit the client is cut, as a slow one would be. */
  pendingBytes?: number
  /**
   * Ids just sent by a replay. A live event may still arrive for one of them
   * (it was stored before the replay was read, but handed over after); such
   * copies are skipped until the first live event that is not among them.
   */
  replayed?: Set<string>
  /** While its replay is under way: the bytes of the page read and not yet written, and whether it waits for the client to read. */
  replay?: { heldBytes: number, waiting: boolean }
}

/** One frame for one transport; `json` is the frame serialized (done once per turn for every transport). */
export function encode (transport: Transport, frame: object, json = JSON.stringify(frame)): Framed {
  const { id = '' } = frame as { id?: string }
  return { id, json, frame: transport === 'websocket' ? textFrame(json) : frameRecord(transport, frame, json) }
}

export const concat = (items: Framed[]): Buffer => items.length === 1 ? (items[0] as Framed).frame : Buffer.concat(items.map((item) => item.frame))

// A response counts what Node holds for it and what its socket holds.
export const backlog = (client: Client): number => client.response?.writableLength ?? client.tcp?.writableLength ?? client.socket?.bufferedAmount ?? 0

export const isOpen = (client: Client): boolean => client.socket !== undefined
  ? client.socket.readyState === WebSocket.OPEN
  : client.response !== undefined && !client.response.writableEnded && !client.response.destroyed

export const terminate = (client: Client): void => {
  if (client.socket !== undefined) client.socket.terminate()
  else client.response?.destroy()
}
