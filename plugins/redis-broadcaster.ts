import type { FastifyBaseLogger } from 'fastify'
import type { Event } from '../schemas/events'
import type { Broadcaster } from './broadcaster'
import type { RedisBackend } from './redis'
import { readRange, type Sequenced } from './redis-store'

export interface RedisBroadcasterOptions {
  /** This instance's sockets: every event of the cluster is handed to it once, in publish order. */
  fanout: Broadcaster
  redis: RedisBackend
  log: FastifyBaseLogger
}

// While the event channel was not subscribed (a lost subscriber connection),
// events may have been published: they are read back from the history.
const CATCH_UP_RETRY_MS = 200
const CATCH_UP_ATTEMPTS = 25

/**
 * Fan-out across instances. Every event reaches this instance through the
 * cluster's Redis channel, its own events included, and is handed to the local
 * fanout there: so each client of each instance gets each event once, in the
 * one order of the channel. The events are put on the channel by the store's
 * append, in the same atomic step as the history (APPEND_LUA in redis.ts):
 * publishing from here as well would send each event twice, and publishing
 * only from here would let the channel's order differ from the history's.
 *
 * The channel carries each event's sequence number. A number that skips ahead,
 * or a new subscription after a lost connection, means events were missed:
 * they are read from the history and delivered first, while live messages wait.
 */
export function createRedisBroadcaster ({ fanout, redis, log }: RedisBroadcasterOptions): Broadcaster {
  /** The sequence number of the newest event handed to the fanout. */
  let last: number | undefined
  /** The counter when this instance first subscribed: where to catch up from if nothing was delivered since. */
  let floor: number | undefined
  /** Live messages held back while missed events are read; undefined when not catching up. */
  let held: Sequenced[] | undefined
  /** Only the latest catch-up flushes `held`: a newer subscription supersedes an older one. */
  let generation = 0
  let stopped = false

  /**
   * Hands an event to the fanout unless it already went: an event read back
   * from the history may still be on its way through the channel, and its
   * live copy then arrives after it.
   */
  function deliver ({ seq, event }: Sequenced): void {
    if (last !== undefined && seq <= last) return
    last = seq
    fanout.broadcast(event).catch((err: unknown) => log.error({ err }, 'local fan-out failed'))
  }

  async function catchUp (): Promise<void> {
    const from = last ?? floor
    if (from === undefined) {
      // First subscription: nothing was missed, only the starting point is needed.
      floor = Number(await redis.command.get(redis.keys.seq) ?? 0)
      return
    }
    const { events, newest } = await readRange(redis, 'seq', String(from))
    const first = events[0]
    // From 0 (no event had ever been published) any first number is fine.
    if (from > 0 && newest > from && first?.seq !== from + 1) {
      log.warn({ from, first: first?.seq, newest }, 'events published while this instance was not subscribed are no longer in the history (or Redis lost its data); its clients may have missed some')
    }
    for (const event of events) deliver(event)
  }

  async function resync (): Promise<void> {
    const mine = ++generation
    held ??= []
    for (let attempt = 1; ; attempt++) {
      try {
        await catchUp()
        break
      } catch (err) {
        if (attempt >= CATCH_UP_ATTEMPTS) {
          log.error({ err }, 'could not read missed events from Redis; live events resume, some may be missing')
          break
        }
        if (attempt === 1) log.warn({ err }, 'reading missed events from Redis failed; retrying')
      }
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref())
      if (mine !== generation || stopped) return
    }
    if (mine !== generation) return
    const pending = held
    held = undefined
    for (const message of pending) deliver(message)
  }

  redis.onMessage((message) => {
    let parsed: Sequenced
    try {
      parsed = JSON.parse(message) as { seq: number, event: Event }
    } catch (err) {
      log.error({ err }, 'unreadable message on the Redis event channel')
      return
    }
    if (held !== undefined) {
      held.push(parsed)
      return
    }
    const from = last ?? floor
    if (from !== undefined && parsed.seq > from + 1) {
      held = [parsed]
      void resync()
      return
    }
    deliver(parsed)
  })
  redis.onSubscribed(() => { void resync() })
  if (redis.subscribed) void resync()

  return {
    get size () { return fanout.size },
    async add (socket, replay) { await fanout.add(socket, replay) },
    // The store's append has already put the event on the channel; it comes
    // back to this instance from there.
    async broadcast () {},
    send (socket, frame) { fanout.send(socket, frame) },
    close (code, reason) {
      stopped = true
      fanout.close(code, reason)
    },
    onDrop (listener) { fanout.onDrop(listener) },
    onFlush (listener) { fanout.onFlush(listener) }
  }
}
