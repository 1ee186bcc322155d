import { once, type EventEmitter } from 'node:events'
import type { Event } from '../../schemas/events'
import type { GapFrame } from '../../schemas/frames'
import type { Log, Replay } from './backend'
import { filterReplay } from './event-filter'
import { backlog, concat, encode, type Client, type DropReason, type Framed } from './fanout-client'

/** Sent first by a replay whose starting id is no longer retained (/ws, /events, and a poll of /events). */
export const GAP_FRAME: GapFrame = {
  type: 'gap',
  message: 'the event asked for is not in the retained history; the whole retained history follows. ' +
    'Anything older is gone: reload from GET /alerts/history and GET /message'
}

/**
 * Sent live to every client when the store lost events it had already sent
 * (Redis restarted from an older snapshot, a lagging replica promoted, or
 * emptied): what the client holds may be gone or renumbered, so it reloads.
 */
export const RESET_GAP_FRAME: GapFrame = {
  type: 'gap',
  message: 'the server\'s store went back to older data (Redis restarted from an older snapshot, or emptied): events sent before may be gone. ' +
    'Reload from GET /alerts/history and GET /message; live events follow'
}

/** What a replay needs of the fan-out that owns the client (one object for the fan-out's life). */
export interface ReplayHub {
  /** Unsent bytes above which a client is cut; live events held during a replay count against it too. */
  readonly maxBufferedBytes: number
  readonly log: Log
  /** See FanoutOptions.caughtUp. */
  readonly caughtUp: (() => Promise<void>) | undefined
  /** Writes unless the client's backlog is already over the limit, in which case it is cut. */
  write: (client: Client, items: Framed[], all?: Buffer) => void
  drop: (client: Client, reason: DropReason, code?: number, text?: string) => void
  /** Still in the set, and its socket or response still open. */
  connected: (client: Client) => boolean
}

/** Holds live events for a client whose replay is under way, within the backlog limit. */
export function hold (hub: ReplayHub, client: Client, batch: Framed[], bytes: number): void {
  client.pendingBytes = (client.pendingBytes ?? 0) + bytes
  if (client.pendingBytes > hub.maxBufferedBytes) {
    client.pending = undefined
    hub.drop(client, 'slow', 1013, 'too slow: backlog over limit')
    return
  }
  client.pending?.push(...batch)
}

/** Writes the events of `batch` this client has not had yet; ends its replay guard once one is new. */
export function writeAfterReplay (hub: ReplayHub, client: Client, batch: Framed[]): void {
  const fresh: Framed[] = []
  for (const item of batch) {
    if (client.replayed?.has(item.id) === true) continue
    client.replayed = undefined
    fresh.push(item)
  }
  hub.write(client, fresh)
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
export async function replayTo (hub: ReplayHub, client: Client, replay: () => Promise<Replay>): Promise<void> {
  let result: Replay
  try {
    if (hub.caughtUp !== undefined) {
      // A lagging feed may still hand over events from before the replay's
      // starting point, which this client already had (from another
      // instance): held, they would be sent again after the replay. So wait
      // until the feed has handed over everything published so far, let it
      // be flushed, and forget what was held: the replay, read after, holds
      // every one of those events past its starting point.
      await hub.caughtUp()
      await new Promise((resolve) => setImmediate(resolve))
      if (client.pending !== undefined) {
        client.pending = []
        client.pendingBytes = undefined
      }
    }
    result = filterReplay(await replay(), client.group.filter)
  } catch (err) {
    client.pending = undefined
    hub.log.error({ err }, 'replay failed')
    hub.write(client, [encode(client.group.transport, { type: 'error', code: 'server_error', message: 'history could not be read; reconnect later' })])
    hub.drop(client, 'replay_failed', 1011, 'replay failed')
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
    await sendReplay(hub, client, found, events, closed)
  } finally {
    listening.abort()
  }
}

async function sendReplay (hub: ReplayHub, client: Client, found: boolean, events: Event[], closed: Promise<void>): Promise<void> {
  const { maxBufferedBytes } = hub
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
    if (!hub.connected(client)) return
    const flushed = Promise.race([writeFlushed(client, items), closed])
    items = []
    bytes = 0
    if (backlog(client) > maxBufferedBytes / 2) await flushed
  }
  if (!hub.connected(client)) return
  const held = client.pending ?? []
  client.pending = undefined
  client.pendingBytes = undefined
  client.replayed = sent
  // Handed over while the replay was read or sent: send what the replay did not hold.
  writeAfterReplay(hub, client, held)
}
