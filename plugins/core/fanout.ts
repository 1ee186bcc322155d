import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { once, type EventEmitter } from 'node:events'
import { WebSocket } from 'ws'
import type { Event } from '../../schemas/events'
import type { GapFrame } from '../../schemas/frames'
import type { Log, Replay } from './backend'
import { filterReplay, passes, type EventFilter } from './event-filter'
import { KEEPALIVE, frameRecord, textFrame, type StreamFormat } from './framing'
import { realTimers, type Timers } from './timers'
import { directSocket } from './ws-internals'
import { LAPSE_REASONS, type Identity, type Lapse } from './credentials'

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

export interface AddOptions {
  /** The TCP socket under the WebSocket (the upgrade request's socket); none for an HTTP stream. */
  tcp?: Socket
  /** Only the events it lets through, live and replayed. */
  filter?: EventFilter
  /**
   * Events to send before live ones (a replay), none lost or doubled in
   * between. Live events are held while it is read.
   */
  replay?: () => Promise<Replay>
  /** Who the subscriber is (its name, when its credential expires), when credentials are configured: see `dropLapsed`. */
  identity?: Identity
}

/**
 * The only thing that writes to WebSocket clients. Owning the set of sockets
 * here keeps serialization, framing, batching and slow-client policy in one
 * place.
 */
export interface Fanout {
  /** Connected clients, every transport. */
  readonly size: number
  /** Connected clients of one transport. */
  count: (transport: Transport) => number
  /** Starts delivering events to a subscriber; it leaves the set when it closes. */
  add: (subscriber: Subscriber, options: AddOptions) => Promise<void>
  /** Queues an event for every client; written at the end of this event-loop turn. */
  broadcast: (event: Event) => void
  /** Sends one frame to one client at once (replies, errors). */
  send: (subscriber: Subscriber, frame: object) => void
  /** Cuts one client with a close code (an HTTP stream's response ends); destroyed if it does not finish the close in time. */
  drop: (subscriber: Subscriber, reason: DropReason, code: number, text: string) => void
  /**
   * Closes (1008 "token revoked", "token expired", "token no longer has the
   * subscribe scope"; an HTTP stream gets an error frame saying so, then
   * ends) every client whose credential `lapse` says no longer holds; returns how many.
   */
  dropLapsed: (lapse: (identity: Identity) => Lapse | undefined) => number
  /** Stops the heartbeats and closes every client with the given code (HTTP streams end); those that have not closed after a grace are destroyed. */
  close: (code: number, reason: string) => void
  /** Called whenever the server cuts a client. */
  onDrop: (listener: (reason: DropReason) => void) => void
  /** Called after each batch of events has been written to every client, with the time that took. */
  onFlush: (listener: (seconds: number) => void) => void
}

export interface FanoutOptions {
  /** Unsent bytes above which a client is closed with 1013. */
  maxBufferedBytes: number
  /** Ping period of WebSockets; 0 turns the heartbeat off. */
  heartbeatMs: number
  /** Period of the keep-alive line of HTTP streams (an SSE comment, an NDJSON keepalive frame); 0 sends none. */
  streamHeartbeatMs?: number
  /** Whether frames may be written to the TCP socket directly (ws-internals.ts). */
  direct: boolean
  log: Log
  /** The heartbeat's and the close grace's timers (tests move time by hand). */
  timers?: Pick<Timers, 'setTimeout' | 'setInterval' | 'clearInterval'>
  /**
   * For a feed that can lag behind the store (Redis: each instance hears the
   * channel in its own time): resolves once every event published before the
   * call has been handed to `broadcast`. See replayTo.
   */
  caughtUp?: () => Promise<void>
}

/** An event ready for the wire of one transport: serialized and framed once, for every client of it. */
interface Framed { id: string, json: string, frame: Buffer }

/** The clients of one transport with one filter: they get the same bytes each turn. */
interface Group {
  key: string
  transport: Transport
  filter: EventFilter | undefined
  clients: Set<Client>
}

interface Client {
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
}

/** One frame for one transport; `json` is the frame serialized (done once per turn for every transport). */
function encode (transport: Transport, frame: object, json = JSON.stringify(frame)): Framed {
  const { id = '' } = frame as { id?: string }
  return { id, json, frame: transport === 'websocket' ? textFrame(json) : frameRecord(transport, frame, json) }
}

const concat = (items: Framed[]): Buffer => items.length === 1 ? (items[0] as Framed).frame : Buffer.concat(items.map((item) => item.frame))

// A client closed for being slow has stopped reading, and one closed at
// shutdown may never answer: the socket is destroyed if it lingers.
const CLOSE_GRACE_MS = 5000

/** Sent first by a replay whose starting id is no longer retained (/ws, /events, and a poll of /events). */
export const GAP_FRAME: GapFrame = {
  type: 'gap',
  message: 'the event asked for is not in the retained history; the whole retained history follows. ' +
    'Anything older is gone: reload from GET /alerts/history and GET /message'
}

/**
 * The local fan-out. Events broadcast during one turn of the event loop are
 * queued and written at its end (setImmediate) as one buffer per client: a
 * burst costs each client one write, not one per event.
 */
export function createFanout ({ maxBufferedBytes, heartbeatMs, streamHeartbeatMs = 0, direct, log, timers = realTimers, caughtUp }: FanoutOptions): Fanout {
  const clients = new Map<Subscriber, Client>()
  // By transport and filter key; the unfiltered WebSockets are one group, as all clients were before filters.
  const groups = new Map<string, Group>()
  const counts: Record<Transport, number> = { websocket: 0, sse: 0, ndjson: 0 }
  const dropListeners: Array<(reason: DropReason) => void> = []
  const flushListeners: Array<(seconds: number) => void> = []
  let queue: Event[] = []
  let scheduled = false

  function join (client: Client): void {
    clients.set(client.subscriber, client)
    client.group.clients.add(client)
    counts[client.group.transport]++
  }

  /** Takes a client out of the set; false when it was not (or no longer) in it. */
  function leave (client: Client | undefined): boolean {
    if (client === undefined || clients.get(client.subscriber) !== client) return false
    clients.delete(client.subscriber)
    counts[client.group.transport]--
    const { group } = client
    group.clients.delete(client)
    if (group.clients.size === 0) groups.delete(group.key)
    return true
  }

  function groupOf (transport: Transport, filter: EventFilter | undefined): Group {
    const key = `${transport}|${filter?.key ?? ''}`
    let group = groups.get(key)
    if (group === undefined) {
      group = { key, transport, filter, clients: new Set() }
      groups.set(key, group)
    }
    return group
  }

  const terminate = (client: Client): void => {
    if (client.socket !== undefined) client.socket.terminate()
    else client.response?.destroy()
  }

  /** Cuts a client: with a close code (an HTTP stream's response ends), or (none given) by destroying the socket at once. */
  function drop (client: Client, reason: DropReason, code?: number, text?: string): void {
    if (!leave(client)) return
    const { transport } = client.group
    log.info({ reason, code, transport, backlog: backlog(client) }, `${transport === 'websocket' ? 'websocket' : 'stream'} client dropped`)
    for (const listener of dropListeners) listener(reason)
    if (code === undefined) {
      terminate(client)
      return
    }
    closeClient(client, code, text)
  }

  function closeClient (client: Client, code: number, text?: string): void {
    if (client.socket !== undefined) client.socket.close(code, text)
    else client.response?.end()
    timers.setTimeout(() => terminate(client), CLOSE_GRACE_MS).unref()
  }

  // A response counts what Node holds for it and what its socket holds.
  const backlog = (client: Client): number => client.response?.writableLength ?? client.tcp?.writableLength ?? client.socket?.bufferedAmount ?? 0

  const isOpen = (client: Client): boolean => client.socket !== undefined
    ? client.socket.readyState === WebSocket.OPEN
    : client.response !== undefined && !client.response.writableEnded && !client.response.destroyed

  /** Writes unless the client's backlog is already over the limit, in which case it is cut. */
  function write (client: Client, items: Framed[], all?: Buffer): void {
    if (items.length === 0 || !isOpen(client)) return
    if (backlog(client) > maxBufferedBytes) {
      drop(client, 'slow', 1013, 'too slow: backlog over limit')
      return
    }
    const stream = client.response ?? client.tcp
    if (stream !== undefined) stream.write(all ?? concat(items))
    else for (const item of items) client.socket?.send(item.json)
  }

  /** Writes the events of `batch` this client has not had yet; ends its replay guard once one is new. */
  function writeAfterReplay (client: Client, batch: Framed[]): void {
    const fresh: Framed[] = []
    for (const item of batch) {
      if (client.replayed?.has(item.id) === true) continue
      client.replayed = undefined
      fresh.push(item)
    }
    write(client, fresh)
  }

  function flush (): void {
    const start = performance.now()
    const events = queue
    queue = []
    scheduled = false
    // Serialized once per turn, framed once per transport and concatenated
    // once per group (transport and filter), and only when someone listens:
    // a server without clients spends nothing on it per publish.
    if (clients.size > 0) {
      const jsons = events.map((event) => JSON.stringify(event))
      const framedBy = new Map<Transport, Framed[]>()
      const passedBy = new Map<string, boolean[]>()
      for (const group of groups.values()) {
        let batch = framedBy.get(group.transport)
        if (batch === undefined) {
          batch = events.map((event, i) => encode(group.transport, event, jsons[i]))
          framedBy.set(group.transport, batch)
        }
        const { filter } = group
        if (filter !== undefined) {
          let passed = passedBy.get(filter.key)
          if (passed === undefined) {
            passed = events.map((event) => passes(event, filter))
            passedBy.set(filter.key, passed)
          }
          const mask = passed
          batch = batch.filter((_, i) => mask[i] === true)
          if (batch.length === 0) continue
        }
        const all = concat(batch)
        for (const client of group.clients) {
          if (client.pending !== undefined) hold(client, batch, all.length)
          else if (client.replayed !== undefined) writeAfterReplay(client, batch)
          else write(client, batch, all)
        }
      }
    }
    const seconds = (performance.now() - start) / 1000
    for (const listener of flushListeners) listener(seconds)
  }

  function onPong (this: WebSocket): void {
    const client = clients.get(this)
    if (client !== undefined) client.alive = true
  }

  function onClose (this: WebSocket): void {
    leave(clients.get(this))
  }

  const heartbeat = heartbeatMs > 0
    ? timers.setInterval(() => {
      for (const group of groups.values()) {
        if (group.transport !== 'websocket') continue
        for (const client of group.clients) {
          if (!client.alive) {
            drop(client, 'heartbeat')
            continue
          }
          client.alive = false
          client.socket?.ping()
        }
      }
    }, heartbeatMs)
    : undefined
  heartbeat?.unref()

  // HTTP streams have no ping: a line that readers skip keeps proxies from
  // closing a quiet stream, and one that is not read builds a backlog and is cut.
  const keepalive: Partial<Record<Transport, Framed[]>> = {
    sse: [{ id: '', json: '', frame: Buffer.from(KEEPALIVE.sse) }],
    ndjson: [{ id: '', json: '', frame: Buffer.from(KEEPALIVE.ndjson) }]
  }
  // Started with the first stream: a server with WebSockets only sets no timer for it.
  let streamHeartbeat: ReturnType<Timers['setInterval']> | undefined
  let closed = false
  function startStreamHeartbeat (): void {
    if (streamHeartbeat !== undefined || streamHeartbeatMs <= 0 || closed) return
    streamHeartbeat = timers.setInterval(() => {
      for (const group of groups.values()) {
        const line = keepalive[group.transport]
        if (line === undefined) continue
        for (const client of group.clients) write(client, line)
      }
    }, streamHeartbeatMs)
    streamHeartbeat.unref()
  }

  /** Holds live events for a client whose replay is under way, within the backlog limit. */
  function hold (client: Client, batch: Framed[], bytes: number): void {
    client.pendingBytes = (client.pendingBytes ?? 0) + bytes
    if (client.pendingBytes > maxBufferedBytes) {
      client.pending = undefined
      drop(client, 'slow', 1013, 'too slow: backlog over limit')
      return
    }
    client.pending?.push(...batch)
  }

  /** Writes frames and resolves once the last of them has left for the network (never, if the socket is destroyed first). */
  async function writeFlushed (client: Client, items: Framed[]): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => { resolve() }
      const stream = client.response ?? client.tcp
      if (stream !== undefined) stream.write(concat(items), done)
      else items.forEach((item, i) => client.socket?.send(item.json, i === items.length - 1 ? done : undefined))
    })
  }

  /**
   * Sends a replay in chunks, each only once the client's backlog is below
   * half the limit (waiting for the previous chunk to leave when it is not):
   * a replay of a long history to a client that does not read holds at most
   * about the limit, not the whole history. Live events meanwhile wait in
   * `pending`, within the same limit.
   */
  async function replayTo (client: Client, replay: () => Promise<Replay>): Promise<void> {
    let result: Replay
    try {
      if (caughtUp !== undefined) {
        // A lagging feed may still hand over events from before the replay's
        // starting point, which this client already had (from another
        // instance): held, they would be sent again after the replay. So wait
        // until the feed has handed over everything published so far, let it
        // be flushed, and forget what was held: the replay, read after, holds
        // every one of those events past its starting point.
        await caughtUp()
        await new Promise((resolve) => setImmediate(resolve))
        if (client.pending !== undefined) {
          client.pending = []
          client.pendingBytes = undefined
        }
      }
      result = filterReplay(await replay(), client.group.filter)
    } catch (err) {
      client.pending = undefined
      log.error({ err }, 'replay failed')
      write(client, [encode(client.group.transport, { type: 'error', code: 'server_error', message: 'history could not be read; reconnect later' })])
      drop(client, 'replay_failed', 1011, 'replay failed')
      return
    }
    const { found, events } = result
    // A socket destroyed with writes pending may never call them back: one
    // listener for the whole replay ends the wait (not one per chunk, which
    // a client that does not read would pile up on its socket).
    const listening = new AbortController()
    // A client is a WebSocket or an HTTP stream's response: one of the two is there.
    const emitter = (client.socket ?? client.response) as EventEmitter
    const closed = once(emitter, 'close', { signal: listening.signal }).then(() => {}, () => {})
    try {
      await sendReplay(client, found, events, closed)
    } finally {
      listening.abort()
    }
  }

  async function sendReplay (client: Client, found: boolean, events: Event[], closed: Promise<void>): Promise<void> {
    const open = (): boolean => clients.get(client.subscriber) === client && isOpen(client)
    const chunkBytes = Math.max(1, Math.floor(maxBufferedBytes / 4))
    const sent = new Set<string>()
    let items: Framed[] = found ? [] : [encode(client.group.transport, GAP_FRAME)]
    let bytes = 0
    for (let i = 0; i <= events.length; i++) {
      const event = events[i]
      if (event !== undefined) {
        const item = encode(client.group.transport, event)
        items.push(item)
        sent.add(event.id)
        bytes += item.frame.length
        if (bytes < chunkBytes) continue
      }
      if (items.length === 0) break
      if (!open()) return
      const flushed = Promise.race([writeFlushed(client, items), closed])
      items = []
      bytes = 0
      if (backlog(client) > maxBufferedBytes / 2) await flushed
    }
    if (!open()) return
    const held = client.pending ?? []
    client.pending = undefined
    client.pendingBytes = undefined
    client.replayed = sent
    // Handed over while the replay was read or sent: send what the replay did not hold.
    writeAfterReplay(client, held)
  }

  function clientOf (subscriber: Subscriber, { tcp, filter, replay, identity }: AddOptions): Client {
    const pending = replay === undefined ? undefined : []
    if (subscriber instanceof WebSocket) {
      const client: Client = { subscriber, socket: subscriber, response: undefined, group: groupOf('websocket', filter), identity, tcp: tcp === undefined ? undefined : directSocket(subscriber, tcp, direct), alive: true, pending }
      // Shared listeners (`this` is the socket): nothing allocated per connection.
      subscriber.on('pong', onPong)
      subscriber.once('close', onClose)
      return client
    }
    const { format, response } = subscriber
    const client: Client = { subscriber, socket: undefined, response, group: groupOf(format, filter), identity, tcp: undefined, alive: true, pending }
    response.once('close', () => leave(client))
    startStreamHeartbeat()
    return client
  }

  return {
    get size () { return clients.size },

    count (transport) { return counts[transport] },

    async add (subscriber, options) {
      const client = clientOf(subscriber, options)
      join(client)
      if (options.replay !== undefined) await replayTo(client, options.replay)
    },

    broadcast (event) {
      queue.push(event)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },

    send (subscriber, frame) {
      const client = clients.get(subscriber)
      if (client !== undefined) write(client, [encode(client.group.transport, frame)])
    },

    drop (subscriber, reason, code, text) {
      const client = clients.get(subscriber)
      if (client !== undefined) drop(client, reason, code, text)
    },

    dropLapsed (lapse) {
      let dropped = 0
      for (const client of clients.values()) {
        const why = client.identity === undefined ? undefined : lapse(client.identity)
        if (why === undefined) continue
        // A stream has no close code: its last frame says why it ends.
        if (client.response !== undefined) write(client, [encode(client.group.transport, { type: 'error', code: 'forbidden', message: `${LAPSE_REASONS[why]}: the stream ends` })])
        drop(client, why, 1008, LAPSE_REASONS[why])
        dropped++
      }
      return dropped
    },

    close (code, reason) {
      closed = true
      timers.clearInterval(heartbeat)
      timers.clearInterval(streamHeartbeat)
      // A peer that never answers the close (a half-open phone, a client that
      // does not read) would hold shutdown for ws's 30 s close timeout. An
      // HTTP stream's response ends: its client reconnects (EventSource with
      // Last-Event-ID) to another instance, or to this one once it is back.
      for (const client of clients.values()) closeClient(client, code, reason)
    },

    onDrop (listener) {
      dropListeners.push(listener)
    },

    onFlush (listener) {
      flushListeners.push(listener)
    }
  }
}
