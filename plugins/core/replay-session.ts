import { once, type EventEmitter } from 'node:events'
import type { GapFrame } from '../../schemas/frames'
import type { Log, Replay } from './backend'
import { filterReplay, nextPageAfter } from './event-filter'
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
 * Reads a replay page by page: `after` undefined for the first page (from
 * where the subscriber asked), then the id of the last event of the page
 * before; at most `limit` events, `more` when others follow.
 */
export type ReplaySource = (after: string | undefined, limit: number) => Promise<Replay>

// A page is sized to about a quarter of the backlog limit (a chunk) from the
// events read so far, within these bounds (the first page, knowing nothing, is the least).
const PAGE_MIN = 16
const PAGE_MAX = 2000
/**
 * Ids of the events sent last, for the hand-over to live events (see
 * Client.replayed): an event read in a page can reach the feed after the
 * page was read (Redis: each instance hears the channel in its own time).
 */
const RECENT_IDS = 1000

/** A page's length from the bytes kept per event read so far (none kept: the longest). */
function pageSize (maxBufferedBytes: number, bytes: number, events: number): number {
  if (events === 0) return PAGE_MIN
  return Math.min(PAGE_MAX, Math.max(PAGE_MIN, Math.floor(maxBufferedBytes / 4 / (bytes / events))))
}

function replayFailed (hub: ReplayHub, client: Client, err: unknown): void {
  client.pending = undefined
  client.replay = undefined
  hub.log.error({ err }, 'replay failed')
  hub.write(client, [encode(client.group.transport, { type: 'error', code: 'server_error', message: 'history could not be read; reconnect later' })])
  hub.drop(client, 'replay_failed', 1011, 'replay failed')
}

/**
 * Sends a replay page by page, each page in chunks, a chunk only once the
 * client's backlog is below half the limit (waiting for the previous chunk
 * to leave when it is not), and the next page read only once the last chunk
 * of the page before has been written: a replay of a long history to a
 * client that does not read holds about the limit (a page, and the
 * backlog), not the whole history. Live events meanwhile wait in `pending`,
 * within the same limit.
 */
export async function replayTo (hub: ReplayHub, client: Client, replay: ReplaySource): Promise<void> {
  client.replay = { heldBytes: 0, waiting: false }
  // A socket destroyed with writes pending may never call them back: one
  // listener for the whole replay ends the wait (not one per chunk, which
  // a client that does not read would pile up on its socket).
  const listening = new AbortController()
  // A client is a WebSocket or an HTTP stream's response: one of the two is there.
  const emitter = (client.socket ?? client.response) as EventEmitter
  const closed = once(emitter, 'close', { signal: listening.signal }).then(() => {}, () => {})
  try {
    await sendReplay(hub, client, replay, closed)
  } finally {
    listening.abort()
    client.replay = undefined
  }
}

/** The first page, read once the feed has caught up (see below). */
async function firstPage (hub: ReplayHub, client: Client, replay: ReplaySource, limit: number): Promise<Replay> {
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
  return await replay(undefined, limit)
}

async function sendReplay (hub: ReplayHub, client: Client, replay: ReplaySource, closed: Promise<void>): Promise<void> {
  const { maxBufferedBytes } = hub
  const chunkBytes = Math.max(1, Math.floor(maxBufferedBytes / 4))
  const { transport, filter } = client.group
  const session = client.replay ?? { heldBytes: 0, waiting: false }
  const recent: string[] = []
  let after: string | undefined
  let limit = PAGE_MIN
  let readBytes = 0
  let readEvents = 0
  for (let first = true; ; first = false) {
    let page: Replay
    try {
      page = first ? await firstPage(hub, client, replay, limit) : await replay(after, limit)
    } catch (err) {
      replayFailed(hub, client, err)
      return
    }
    if (!hub.connected(client)) return
    if (!first && !page.found) {
      // The history let go of where this client's replay had got to: it read
      // more slowly than events were published.
      hub.drop(client, 'slow', 1013, 'too slow: backlog over limit')
      return
    }
    const next = nextPageAfter(page)
    // Where the replay meets the live events held meanwhile (read right
    // after the page, before any wait): from there on they are sent instead.
    const live = new Set(client.pending?.map((item) => item.id))
    let events = filterReplay(page, filter).events
    const meets = events.findIndex((event) => live.has(event.id))
    if (meets >= 0) events = events.slice(0, meets)
    // Framed at once, and the events let go: a page waits as bytes, counted.
    // Written to the TCP socket or the response, a frame needs no copy of its JSON.
    const bare = client.tcp !== undefined || client.response !== undefined
    const frames = events.map((event) => {
      const item = encode(transport, event)
      if (bare) item.json = ''
      return item
    })
    if (first && !page.found) frames.unshift(encode(transport, GAP_FRAME))
    for (const item of frames) {
      session.heldBytes += item.frame.length
      readBytes += item.frame.length
    }
    // Per event read, kept or not: a filter that keeps few makes the pages longer.
    readEvents += page.events.length
    for (let i = 0; i < frames.length;) {
      const items: Framed[] = []
      let bytes = 0
      while (i < frames.length && (items.length === 0 || bytes < chunkBytes)) {
        const item = frames[i++] as Framed
        items.push(item)
        bytes += item.frame.length
        if (item.id !== '') recent.push(item.id)
      }
      if (recent.length > RECENT_IDS) recent.splice(0, recent.length - RECENT_IDS)
      if (!hub.connected(client)) return
      const flushed = Promise.race([writeFlushed(client, items), closed])
      session.heldBytes -= bytes
      if (backlog(client) > maxBufferedBytes / 2) {
        session.waiting = true
        await flushed
        session.waiting = false
      }
    }
    if (meets >= 0 || next === undefined) break
    after = next
    limit = pageSize(maxBufferedBytes, readBytes, readEvents)
  }
  if (!hub.connected(client)) return
  const held = client.pending ?? []
  client.pending = undefined
  client.pendingBytes = undefined
  client.replayed = new Set(recent)
  // Handed over while the replay was read or sent: send what the replay did not hold.
  writeAfterReplay(hub, client, held)
}
