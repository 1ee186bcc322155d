import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import type { Event } from '../../schemas/events'
import type { GapFrame } from '../../schemas/frames'
import type { Log, Replay } from './backend'
import { textFrame } from './framing'
import { realTimers, type Timers } from './timers'
import { directSocket } from './ws-internals'
import type { Identity, Lapse } from './credentials'

/** Why a client left the set, for logs and metrics. */
export type DropReason = 'slow' | 'heartbeat' | 'replay_failed' | 'invalid_frames' | Lapse

export interface AddOptions {
  /** The TCP socket under the WebSocket (the upgrade request's socket). */
  tcp: Socket
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
  /** Connected clients. */
  readonly size: number
  /** Starts delivering events to a socket; it leaves the set when it closes. */
  add: (socket: WebSocket, options: AddOptions) => Promise<void>
  /** Queues an event for every client; written at the end of this event-loop turn. */
  broadcast: (event: Event) => void
  /** Sends one frame to one client at once (replies, errors). */
  send: (socket: WebSocket, frame: object) => void
  /** Cuts one client with a close code (destroyed if it does not finish the close in time). */
  drop: (socket: WebSocket, reason: DropReason, code: number, text: string) => void
  /**
   * Closes (1008 "token revoked" / "token expired") every client whose
   * credential `lapse` says no longer holds; returns how many.
   */
  dropLapsed: (lapse: (identity: Identity) => Lapse | undefined) => number
  /** Stops the heartbeat and closes every client with the given code; those that have not closed after a grace are destroyed. */
  close: (code: number, reason: string) => void
  /** Called whenever the server cuts a client. */
  onDrop: (listener: (reason: DropReason) => void) => void
  /** Called after each batch of events has been written to every client, with the time that took. */
  onFlush: (listener: (seconds: number) => void) => void
}

export interface FanoutOptions {
  /** Unsent bytes above which a client is closed with 1013. */
  maxBufferedBytes: number
  /** Ping period; 0 turns the heartbeat off. */
  heartbeatMs: number
  /** Whether frames may be written to the TCP socket directly (ws-internals.ts). */
  direct: boolean
  log: Log
  /** The heartbeat's and the close grace's timers (tests move time by hand). */
  timers?: Pick<Timers, 'setTimeout' | 'setInterval' | 'clearInterval'>
}

/** An event ready for the wire: serialized and framed once, for every client. */
interface Framed { id: string, json: string, frame: Buffer }

interface Client {
  socket: WebSocket
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

const framed = (frame: object): Framed => {
  const json = JSON.stringify(frame)
  return { id: (frame as { id?: string }).id ?? '', json, frame: textFrame(json) }
}

// A client closed for being slow has stopped reading, and one closed at
// shutdown may never answer: the socket is destroyed if it lingers.
const CLOSE_GRACE_MS = 5000

const GAP_MESSAGE = 'the event asked for is not in the retained history; the whole retained history follows. ' +
  'Anything older is gone: reload from GET /alerts/history and GET /message'

/**
 * The local fan-out. Events broadcast during one turn of the event loop are
 * queued and written at its end (setImmediate) as one buffer per client: a
 * burst costs each client one write, not one per event.
 */
export function createFanout ({ maxBufferedBytes, heartbeatMs, direct, log, timers = realTimers }: FanoutOptions): Fanout {
  const clients = new Map<WebSocket, Client>()
  const dropListeners: Array<(reason: DropReason) => void> = []
  const flushListeners: Array<(seconds: number) => void> = []
  let queue: Event[] = []
  let scheduled = false

  /** Cuts a client: with a close code, or (none given) by destroying the socket at once. */
  function drop (client: Client, reason: DropReason, code?: number, text?: string): void {
    if (!clients.delete(client.socket)) return
    log.info({ reason, code, backlog: backlog(client) }, 'websocket client dropped')
    for (const listener of dropListeners) listener(reason)
    if (code === undefined) {
      client.socket.terminate()
      return
    }
    client.socket.close(code, text)
    timers.setTimeout(() => client.socket.terminate(), CLOSE_GRACE_MS).unref()
  }

  const backlog = (client: Client): number => client.tcp?.writableLength ?? client.socket.bufferedAmount

  /** Writes unless the client's backlog is already over the limit, in which case it is cut. */
  function write (client: Client, items: Framed[], all?: Buffer): void {
    if (items.length === 0 || client.socket.readyState !== WebSocket.OPEN) return
    if (backlog(client) > maxBufferedBytes) {
      drop(client, 'slow', 1013, 'too slow: backlog over limit')
      return
    }
    if (client.tcp !== undefined) {
      client.tcp.write(all ?? (items.length === 1 ? (items[0] as Framed).frame : Buffer.concat(items.map((item) => item.frame))))
    } else {
      for (const item of items) client.socket.send(item.json)
    }
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
    // Serialized and framed here, once per turn, and only when someone listens:
    // a server without WebSocket clients spends nothing on it per publish.
    if (clients.size > 0) {
      const batch = events.map(framed)
      const all = batch.length === 1 ? (batch[0] as Framed).frame : Buffer.concat(batch.map((item) => item.frame))
      for (const client of clients.values()) {
        if (client.pending !== undefined) hold(client, batch, all.length)
        else if (client.replayed !== undefined) writeAfterReplay(client, batch)
        else write(client, batch, all)
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
    clients.delete(this)
  }

  const heartbeat = heartbeatMs > 0
    ? timers.setInterval(() => {
      for (const client of clients.values()) {
        if (!client.alive) {
          drop(client, 'heartbeat')
          continue
        }
        client.alive = false
        client.socket.ping()
      }
    }, heartbeatMs)
    : undefined
  heartbeat?.unref()

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

  /** Writes frames and resolves once the last of them has left for the network (or the socket is gone). */
  async function writeFlushed (client: Client, items: Framed[]): Promise<void> {
    await new Promise<void>((resolve) => {
      // A socket destroyed with writes pending may never call them back.
      const done = (): void => {
        client.socket.off('close', done)
        resolve()
      }
      client.socket.once('close', done)
      if (client.tcp !== undefined) {
        client.tcp.write(Buffer.concat(items.map((item) => item.frame)), done)
      } else {
        items.forEach((item, i) => client.socket.send(item.json, i === items.length - 1 ? done : undefined))
      }
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
      result = await replay()
    } catch (err) {
      client.pending = undefined
      log.error({ err }, 'websocket replay failed')
      write(client, [framed({ type: 'error', code: 'server_error', message: 'history could not be read; reconnect later' })])
      drop(client, 'replay_failed', 1011, 'replay failed')
      return
    }
    const { found, events } = result
    const open = (): boolean => clients.get(client.socket) === client && client.socket.readyState === WebSocket.OPEN
    const chunkBytes = Math.max(1, Math.floor(maxBufferedBytes / 4))
    const sent = new Set<string>()
    let items: Framed[] = found ? [] : [framed({ type: 'gap', message: GAP_MESSAGE } satisfies GapFrame)]
    let bytes = 0
    for (let i = 0; i <= events.length; i++) {
      const event = events[i]
      if (event !== undefined) {
        const item = framed(event)
        items.push(item)
        sent.add(event.id)
        bytes += item.frame.length
        if (bytes < chunkBytes) continue
      }
      if (items.length === 0) break
      if (!open()) return
      const flushed = writeFlushed(client, items)
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

  return {
    get size () { return clients.size },

    async add (socket, { tcp, replay, identity }) {
      const client: Client = { socket, identity, tcp: directSocket(socket, tcp, direct), alive: true, pending: replay === undefined ? undefined : [] }
      clients.set(socket, client)
      // Shared listeners (`this` is the socket): nothing allocated per connection.
      socket.on('pong', onPong)
      socket.once('close', onClose)
      if (replay !== undefined) await replayTo(client, replay)
    },

    broadcast (event) {
      queue.push(event)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },

    send (socket, frame) {
      const client = clients.get(socket)
      if (client !== undefined) write(client, [framed(frame)])
    },

    drop (socket, reason, code, text) {
      const client = clients.get(socket)
      if (client !== undefined) drop(client, reason, code, text)
    },

    dropLapsed (lapse) {
      let dropped = 0
      for (const client of clients.values()) {
        const why = client.identity === undefined ? undefined : lapse(client.identity)
        if (why === undefined) continue
        drop(client, why, 1008, `token ${why}`)
        dropped++
      }
      return dropped
    },

    close (code, reason) {
      timers.clearInterval(heartbeat)
      // A peer that never answers the close (a half-open phone, a client that
      // does not read) would hold shutdown for ws's 30 s close timeout.
      for (const client of clients.values()) {
        client.socket.close(code, reason)
        timers.setTimeout(() => client.socket.terminate(), CLOSE_GRACE_MS).unref()
      }
    },

    onDrop (listener) {
      dropListeners.push(listener)
    },

    onFlush (listener) {
      flushListeners.push(listener)
    }
  }
}
