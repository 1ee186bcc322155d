import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import type { Event } from '../../../schemas/events'
import type { EventFeed, Log } from '../backend'
import type { Range, Sequenced } from './store'

// While the event channel was not subscribed (a lost subscriber connection),
// events may have been published: they are read back from the history.
const CATCH_UP_RETRY_MS = 200
const CATCH_UP_ATTEMPTS = 25
// How long a replay waits for this instance to have heard every event published before it (see EventFeed.caughtUp).
const CAUGHT_UP_WAIT_MS = 1000

export interface SequencerOptions {
  /** The retained events after a sequence number, in order (range.lua). */
  readAfter: (seq: number) => Promise<Range>
  /** The sequence number of the newest event published (0 before the first). */
  counter: () => Promise<number>
  /** The id of the event stored under a sequence number, or undefined when none is (evicted, or never there). */
  idAt: (seq: number) => Promise<string | undefined>
  /** The sequence number of the newest event either stream has let go for room (0 when none has). */
  evictedThrough: () => Promise<number>
  log: Log
  /** Whether the backend has been closed: a catch-up then stops retrying and nobody waits. */
  closed: () => boolean
}

/** The order-keeping part of the feed: what arrives on the channel, and what is read back after a gap, handed on once each, in sequence order. */
export interface Sequencer {
  subscribe: (listener: (event: Event) => void) => void
  /** A message of the channel. */
  receive: (message: Sequenced) => void
  /** The channel was (re)subscribed: events may have been missed meanwhile. Resolves once they have been read back (or given up on). */
  resubscribed: () => Promise<void>
  caughtUp: () => Promise<void>
  /** Called when Redis went back in time and the feed started again from its newest event: what clients were sent may be gone. */
  onReset: (listener: () => void) => void
}

/**
 * Runs a catch-up until it succeeds, CATCH_UP_ATTEMPTS times at most, while
 * `wanted`. False when it was given up because it is no longer wanted.
 */
async function retried (catchUp: () => Promise<void>, log: Log, wanted: () => boolean): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await catchUp()
      return true
    } catch (err) {
      if (attempt >= CATCH_UP_ATTEMPTS) {
        log.error({ err }, 'could not read missed events from Redis; live events resume, some may be missing')
        return true
      }
      if (attempt === 1) log.warn({ err }, 'reading missed events from Redis failed; retrying')
    }
    await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref())
    if (!wanted()) return false
  }
}

/**
 * Whether Redis went back in time (restarted from an older snapshot, a
 * lagging replica promoted, the last second of an everysec AOF lost) or lost
 * its data (FLUSHALL, a new empty Redis): its counter is below `from`, the
 * newest event delivered, or that number now holds another event than
 * `fromId`, or none although neither stream let it go for room. Every event
 * it numbers from now on would look delivered already, and be dropped; or
 * (an emptied Redis numbers from the clock again) what clients hold is gone.
 */
async function rolledBack (from: number, newest: number, fromId: string | undefined, { idAt, evictedThrough }: Pick<SequencerOptions, 'idAt' | 'evictedThrough'>): Promise<boolean> {
  if (newest < from) return true
  if (fromId === undefined) return false
  const now = await idAt(from)
  if (now === undefined) return from > await evictedThrough()
  return now !== fromId
}

/**
 * Every event of the channel, once, in sequence order. The channel carries
 * each event's sequence number: a number that skips ahead, or a new
 * subscription after a lost connection, means events were missed; they are
 * read back from the history and delivered first, while live messages wait.
 */
export function createSequencer ({ readAfter, counter, idAt, evictedThrough, log, closed }: SequencerOptions): Sequencer {
  const listeners: Array<(event: Event) => void> = []
  const resetListeners: Array<() => void> = []
  /** The sequence number of the newest event handed to the listeners. */
  let last: number | undefined
  /** The id of that event: whether Redis still holds it at that number tells a rollback. */
  let lastId: string | undefined
  /** The counter when this instance first subscribed: where to catch up from if nothing was delivered since. */
  let floor: number | undefined
  /** Live messages held back while missed events are read; undefined when not catching up. */
  let held: Sequenced[] | undefined
  /** Only the latest catch-up flushes `held`: a newer subscription supersedes an older one. */
  let generation = 0
  /** Callers of caughtUp, each waiting for the feed to hand over the event with this seq. */
  const waiters = new Set<{ seq: number, done: () => void }>()

  /**
   * Hands an event on unless it already went: an event read back from the
   * history may still be on its way through the channel, and its live copy
   * then arrives after it.
   */
  function deliver ({ seq, event }: Sequenced): void {
    if (last !== undefined && seq <= last) return
    last = seq
    lastId = event.id
    for (const listener of listeners) listener(event)
    settleWaiters()
  }

  /** Lets go the callers of caughtUp whose event has been handed over (or lies before the first subscription). */
  function settleWaiters (): void {
    const delivered = last ?? floor
    if (delivered !== undefined) for (const waiter of waiters) if (waiter.seq <= delivered) waiter.done()
  }

  /** Resolves once the feed has handed over every event published before the call (at most CAUGHT_UP_WAIT_MS later). */
  async function caughtUp (): Promise<void> {
    let target: number
    try {
      target = await counter()
    } catch {
      return
    }
    // Before the first subscription is set up (delivered undefined) the feed
    // may be holding events back too: wait for it as well.
    const delivered = last ?? floor
    if ((delivered !== undefined && delivered >= target) || closed()) return
    await new Promise<void>((resolve) => {
      const waiter = { seq: target, done: () => { waiters.delete(waiter); clearTimeout(timer); resolve() } }
      const timer = setTimeout(waiter.done, CAUGHT_UP_WAIT_MS).unref()
      waiters.add(waiter)
    })
  }

  async function catchUp (): Promise<void> {
    const from = last ?? floor
    if (from === undefined) {
      // First subscription: nothing was missed, only the starting point is needed.
      floor = await counter()
      return
    }
    const { events: missed, newest } = await readAfter(from)
    if (await rolledBack(from, newest, lastId, { idAt, evictedThrough })) {
      log.error({ delivered: from, newest }, 'Redis went back in time (restarted from an older snapshot, failed over to a lagging replica, or emptied): events published before it may be lost; the feed starts again from its newest event, and clients are told to reload')
      // Start over from what Redis holds now: what it numbers next is new.
      last = undefined
      lastId = undefined
      floor = newest
      // Before anything numbered after it is delivered, so that clients are
      // told first and what follows is theirs to keep.
      for (const listener of resetListeners) listener()
      return
    }
    const first = missed[0]
    // From 0 (no event had ever been published) any first number is fine.
    if (from > 0 && newest > from && first?.seq !== from + 1) {
      log.warn({ from, first: first?.seq, newest }, 'events published while this instance was not subscribed are no longer in the history (or Redis lost its data); its clients may have missed some')
    }
    for (const event of missed) deliver(event)
  }

  async function resync (): Promise<void> {
    const mine = ++generation
    held ??= []
    if (!await retried(catchUp, log, () => mine === generation && !closed()) || mine !== generation) return
    const pending = held
    held = undefined
    for (const message of pending) deliver(message)
    // Once what was held has gone too (a first subscription may deliver nothing).
    settleWaiters()
  }

  return {
    subscribe (listener) { listeners.push(listener) },
    receive (message) {
      if (held !== undefined) {
        held.push(message)
        return
      }
      const from = last ?? floor
      // Ahead: events were missed. At or behind what was delivered, live (a
      // copy of an event read back is never live once the catch-up is over):
      // Redis went back in time under a subscription that stayed up.
      if (from !== undefined && (message.seq > from + 1 || (last !== undefined && message.seq <= last))) {
        held = [message]
        void resync()
        return
      }
      deliver(message)
    },
    resubscribed: resync,
    caughtUp,
    onReset (listener) { resetListeners.push(listener) }
  }
}

export interface RedisFeed {
  feed: EventFeed
  /** Whether the channel is subscribed now. */
  subscribed: () => boolean
  /** Emits 'subscribed' each time the channel is subscribed, 'subscribeFailed' when subscribing fails. */
  events: EventEmitter
}

export interface RedisFeedOptions extends SequencerOptions {
  /** The connection that subscribes (a subscribed connection can run no other command). */
  subscriber: Redis
  channel: string
}

/** The feed of a cluster: the channel every instance publishes on, subscribed on each (re)connection, through the sequencer. */
export function createRedisFeed ({ subscriber, channel, ...options }: RedisFeedOptions): RedisFeed {
  const { log } = options
  const sequencer = createSequencer(options)
  const events = new EventEmitter()
  let subscribed = false

  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => {
      subscribed = true
      events.emit('subscribed')
      void sequencer.resubscribed()
    }, (err: unknown) => {
      // The connection dropped again (the next 'ready' retries) or Redis refused.
      log.warn({ err }, 'redis subscribe failed')
      events.emit('subscribeFailed')
    })
  })
  subscriber.on('close', () => { subscribed = false })
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return
    let parsed: Sequenced
    try {
      parsed = JSON.parse(message) as Sequenced
    } catch (err) {
      log.error({ err }, 'unreadable message on the Redis event channel')
      return
    }
    sequencer.receive(parsed)
  })

  return {
    feed: { subscribe: sequencer.subscribe, caughtUp: sequencer.caughtUp, onReset: sequencer.onReset },
    subscribed: () => subscribed,
    events
  }
}
