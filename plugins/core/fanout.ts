import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import type { Event } from '../../schemas/events'
import type { GapFrame } from '../../schemas/frames'
import type { Log } from './backend'
import { passes, type EventFilter } from './event-filter'
import { KEEPALIVE } from './framing'
import { realTimers, type Timers } from './timers'
import { directSocket } from './ws-internals'
import { LAPSE_REASONS, type Identity, type Lapse } from './credentials'
import { backlog, concat, encode, isOpen, terminate, type Client, type DropReason, type Framed, type Group, type Subscriber, type Transport } from './fanout-client'
import { hold, replayTo, writeAfterReplay, type ReplayHub, type ReplaySource } from './replay-session'

export { TRANSPORTS, type DropReason, type HttpStream, type Subscriber, type Transport } from './fanout-client'
export { GAP_FRAME, RESET_GAP_FRAME } from './replay-session'

export interface AddOptions {
  /** The TCP socket under the WebSocket (the upgrade request's socket); none for an HTTP stream. */
  tcp?: Socket
  /** Only the events it lets through, live and replayed. */
  filter?: EventFilter
  /**
   * Events to send before live ones (a replay), none lost or doubled in
   * between. Live events are held while it is read.
   */
  replay?: ReplaySource
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
  /**
   * Events will be broadcast at the end of this turn (a store's group commit):
   * the flush is scheduled now, after the commit, so they go out in the same
   * turn, after the commit's answers, not a turn later behind the next turn's
   * commit.
   */
  expect: () => void
  /**
   * Queues a gap frame for every client, whatever its filter, in order with
   * the events broadcast around it (a client whose replay is under way gets
   * it after its replay): the store lost events they may have been sent.
   */
  gap: (frame: GapFrame) => void
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
  /**
   * The replays under way: how many wait for their client to read, and the
   * bytes held for them (pages read and not yet written, live events held,
   * what their sockets have not sent).
   */
  replays: () => { running: number, waiting: number, heldBytes: number }
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

// A client closed for being slow has stopped reading, and one closed at
// shutdown may never answer: the socket is destroyed if it lingers.
const CLOSE_GRACE_MS = 5000

/** The set of clients and the one place that writes to them or cuts them: one object for the fan-out's life, shared by its parts. */
interface Hub extends ReplayHub {
  readonly clients: Map<Subscriber, Client>
  // By transport and filter key; the unfiltered WebSockets are one group, as all clients were before filters.
  readonly groups: Map<string, Group>
  readonly counts: Record<Transport, number>
  readonly dropListeners: Array<(reason: DropReason) => void>
  join: (client: Client) => void
  /** Takes a client out of the set; false when it was not (or no longer) in it. */
  leave: (client: Client | undefined) => boolean
  groupOf: (transport: Transport, filter: EventFilter | undefined) => Group
  /** Closes with a code (an HTTP stream's response ends), and destroys it if it has not finished closing after a grace. */
  closeClient: (client: Client, code: number, text?: string) => void
}

function createHub ({ maxBufferedBytes, log, timers, caughtUp }: Pick<FanoutOptions, 'maxBufferedBytes' | 'log' | 'caughtUp'> & { timers: Pick<Timers, 'setTimeout'> }): Hub {
  const clients = new Map<Subscriber, Client>()
  const groups = new Map<string, Group>()
  const counts: Record<Transport, number> = { websocket: 0, sse: 0, ndjson: 0 }
  const dropListeners: Array<(reason: DropReason) => void> = []

  function leave (client: Client | undefined): boolean {
    if (client === undefined || clients.get(client.subscriber) !== client) return false
    clients.delete(client.subscriber)
    counts[client.group.transport]--
    const { group } = client
    group.clients.delete(client)
    if (group.clients.size === 0) groups.delete(group.key)
    return true
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

  return {
    clients,
    groups,
    counts,
    dropListeners,
    maxBufferedBytes,
    log,
    caughtUp,
    join (client) {
      clients.set(client.subscriber, client)
      client.group.clients.add(client)
      counts[client.group.transport]++
    },
    leave,
    groupOf (transport, filter) {
      const key = `${transport}|${filter?.key ?? ''}`
      let group = groups.get(key)
      if (group === undefined) {
        group = { key, transport, filter, clients: new Set() }
        groups.set(key, group)
      }
      return group
    },
    closeClient,
    write,
    drop,
    connected: (client) => clients.get(client.subscriber) === client && isOpen(client)
  }
}

/**
 * Writes one turn's events to every client. Serialized once per turn, framed
 * once per transport and concatenated once per group (transport and filter);
 * a client whose replay is under way has them held, or skips those its
 * replay just sent.
 */
function writeTurn (hub: Hub, events: Array<Event | GapFrame>): void {
  const jsons = events.map((event) => JSON.stringify(event))
  const framedBy = new Map<Transport, Framed[]>()
  const passedBy = new Map<string, boolean[]>()
  for (const group of hub.groups.values()) {
    let batch = framedBy.get(group.transport)
    if (batch === undefined) {
      batch = events.map((event, i) => encode(group.transport, event, jsons[i]))
      framedBy.set(group.transport, batch)
    }
    const { filter } = group
    if (filter !== undefined) {
      let passed = passedBy.get(filter.key)
      if (passed === undefined) {
        passed = events.map((event) => event.type === 'gap' || passes(event, filter))
        passedBy.set(filter.key, passed)
      }
      const mask = passed
      batch = batch.filter((_, i) => mask[i] === true)
      if (batch.length === 0) continue
    }
    const all = concat(batch)
    for (const client of group.clients) {
      if (client.pending !== undefined) hold(hub, client, batch, all.length)
      else if (client.replayed !== undefined) writeAfterReplay(hub, client, batch)
      else hub.write(client, batch, all)
    }
  }
}

interface Heartbeats {
  /** Starts the keep-alive of HTTP streams (with the first stream: a server with WebSockets only sets no timer for it). */
  startStreams: () => void
  stop: () => void
}

/** Pings WebSockets (one that did not answer the last ping is destroyed) and keeps HTTP streams alive. */
function startHeartbeats (hub: Hub, { heartbeatMs, streamHeartbeatMs, timers }: { heartbeatMs: number, streamHeartbeatMs: number, timers: Pick<Timers, 'setInterval' | 'clearInterval'> }): Heartbeats {
  const heartbeat = heartbeatMs > 0
    ? timers.setInterval(() => {
      for (const group of hub.groups.values()) {
        if (group.transport !== 'websocket') continue
        for (const client of group.clients) {
          if (!client.alive) {
            hub.drop(client, 'heartbeat')
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
  let streamHeartbeat: ReturnType<Timers['setInterval']> | undefined
  let stopped = false
  return {
    startStreams () {
      if (streamHeartbeat !== undefined || streamHeartbeatMs <= 0 || stopped) return
      streamHeartbeat = timers.setInterval(() => {
        for (const group of hub.groups.values()) {
          const line = keepalive[group.transport]
          if (line === undefined) continue
          for (const client of group.clients) hub.write(client, line)
        }
      }, streamHeartbeatMs)
      streamHeartbeat.unref()
    },
    stop () {
      stopped = true
      timers.clearInterval(heartbeat)
      timers.clearInterval(streamHeartbeat)
    }
  }
}

/**
 * The local fan-out. Events broadcast during one turn of the event loop are
 * queued and written at its end (setImmediate) as one buffer per client: a
 * burst costs each client one write, not one per event.
 */
export function createFanout ({ maxBufferedBytes, heartbeatMs, streamHeartbeatMs = 0, direct, log, timers = realTimers, caughtUp }: FanoutOptions): Fanout {
  const hub = createHub({ maxBufferedBytes, log, timers, caughtUp })
  const { clients, counts } = hub
  const flushListeners: Array<(seconds: number) => void> = []
  let queue: Array<Event | GapFrame> = []
  let scheduled = false

  function flush (): void {
    scheduled = false
    // Expected for a turn that stored no event (its commit failed, or it wrote only monitors, claims, the outbox): nothing to write.
    if (queue.length === 0) return
    const start = performance.now()
    const events = queue
    queue = []
    // Only when someone listens: a server without clients spends nothing on it per publish.
    if (clients.size > 0) writeTurn(hub, events)
    const seconds = (performance.now() - start) / 1000
    for (const listener of flushListeners) listener(seconds)
  }

  function onPong (this: WebSocket): void {
    const client = clients.get(this)
    if (client !== undefined) client.alive = true
  }

  function onClose (this: WebSocket): void {
    hub.leave(clients.get(this))
  }

  function schedule (): void {
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }

  function enqueue (item: Event | GapFrame): void {
    queue.push(item)
    schedule()
  }

  const heartbeats = startHeartbeats(hub, { heartbeatMs, streamHeartbeatMs, timers })

  function clientOf (subscriber: Subscriber, { tcp, filter, replay, identity }: AddOptions): Client {
    const pending = replay === undefined ? undefined : []
    if (subscriber instanceof WebSocket) {
      const client: Client = { subscriber, socket: subscriber, response: undefined, group: hub.groupOf('websocket', filter), identity, tcp: tcp === undefined ? undefined : directSocket(subscriber, tcp, direct), alive: true, pending }
      // Shared listeners (`this` is the socket): nothing allocated per connection.
      subscriber.on('pong', onPong)
      subscriber.once('close', onClose)
      return client
    }
    const { format, response } = subscriber
    const client: Client = { subscriber, socket: undefined, response, group: hub.groupOf(format, filter), identity, tcp: undefined, alive: true, pending }
    response.once('close', () => hub.leave(client))
    heartbeats.startStreams()
    return client
  }

  return {
    get size () { return clients.size },

    count (transport) { return counts[transport] },

    async add (subscriber, options) {
      const client = clientOf(subscriber, options)
      hub.join(client)
      if (options.replay !== undefined) await replayTo(hub, client, options.replay)
    },

    broadcast: enqueue,

    expect: schedule,

    gap: enqueue,

    send (subscriber, frame) {
      const client = clients.get(subscriber)
      if (client !== undefined) hub.write(client, [encode(client.group.transport, frame)])
    },

    drop (subscriber, reason, code, text) {
      const client = clients.get(subscriber)
      if (client !== undefined) hub.drop(client, reason, code, text)
    },

    dropLapsed (lapse) {
      let dropped = 0
      for (const client of clients.values()) {
        const why = client.identity === undefined ? undefined : lapse(client.identity)
        if (why === undefined) continue
        // A stream has no close code: its last frame says why it ends.
        if (client.response !== undefined) hub.write(client, [encode(client.group.transport, { type: 'error', code: 'forbidden', message: `${LAPSE_REASONS[why]}: the stream ends` })])
        hub.drop(client, why, 1008, LAPSE_REASONS[why])
        dropped++
      }
      return dropped
    },

    close (code, reason) {
      heartbeats.stop()
      // A peer that never answers the close (a half-open phone, a client that
      // does not read) would hold shutdown for ws's 30 s close timeout. An
      // HTTP stream's response ends: its client reconnects (EventSource with
      // Last-Event-ID) to another instance, or to this one once it is back.
      for (const client of clients.values()) hub.closeClient(client, code, reason)
    },

    replays () {
      let running = 0
      let waiting = 0
      let heldBytes = 0
      for (const client of clients.values()) {
        if (client.replay === undefined) continue
        running++
        if (client.replay.waiting) waiting++
        heldBytes += client.replay.heldBytes + (client.pendingBytes ?? 0) + backlog(client)
      }
      return { running, waiting, heldBytes }
    },

    onDrop (listener) {
      hub.dropListeners.push(listener)
    },

    onFlush (listener) {
      flushListeners.push(listener)
    }
  }
}
