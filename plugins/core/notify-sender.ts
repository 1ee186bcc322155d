/**
 * The sender: takes due entries from the outbox and delivers them, each
 * receiver on its own (one at a time each, oldest first, so that a receiver
 * hears of a raise before its resolve), so that a slow or failing
 * receiver never delays another, nor the API or the fan-out (the sender
 * only reads the outbox; publishing never waits for it). Each attempt has a
 * timeout; a failure is tried again after an exponential backoff with
 * jitter, until the give-up time; every attempt is recorded.
 */
import type { DeliveryAttempt, Log, Outbox, OutboxEntry } from './backend'
import type { Receiver } from './notify-config'
import { failureOf, type Deliver } from './notify-receivers'
import type { Timer, Timers } from './timers'

// The most notifications one grouped message carries; more wait for the next.
const GROUP_MAX = 50

export interface SenderOptions {
  outbox: Outbox
  /** The receiver of a name as configured now; undefined when it is no longer. */
  receiver: (name: string) => Receiver | undefined
  deliver: Deliver
  timers: Timers
  log: Log
  /** How long an attempt may take (10 s by default). */
  timeoutMs?: number
  /** How long after its event an entry is given up (24 h by default). */
  giveUpMs?: number
  /** The first retry's delay before jitter; each later one doubles, up to `maxBackoffMs`. */
  firstBackoffMs?: number
  maxBackoffMs?: number
  /** Deliveries in flight per receiver at most: 1 (the default) keeps each receiver's notifications in order. */
  perReceiver?: number
  /** How often the outbox is looked at when nothing woke the sender. */
  pollMs?: number
  /** A number in [0, 1): the jitter (Math.random). */
  random?: () => number
  /** Told of every attempt (metrics), with the secret-free text of what went wrong. */
  onAttempt?: (attempt: DeliveryAttempt) => void
  /** Takes the secrets out of a text (NOTIFY_FILE's URLs, tokens, passwords). */
  scrub?: (text: string) => string
}

export interface Sender {
  start: () => void
  /** Looks at the outbox soon (after an event was appended). */
  kick: () => void
  /** Stops: no more claims; deliveries in flight are cut and given back, due at once. */
  stop: () => Promise<void>
  /** Resolves when no pass runs and nothing is in flight (tests). */
  idle: () => Promise<void>
}

/** The delay before retry number `attempt` (1 for the first retry): doubling, capped, with jitter down to half. */
export function backoff (attempt: number, firstMs: number, maxMs: number, random: () => number): number {
  const full = Math.min(maxMs, firstMs * 2 ** Math.min(attempt - 1, 30))
  return Math.round(full / 2 + (full / 2) * random())
}

export function createSender ({
  outbox, receiver, deliver, timers, log, timeoutMs = 10_000, giveUpMs = 86_400_000, firstBackoffMs = 2_000, maxBackoffMs = 300_000,
  perReceiver = 1, pollMs = 1_000, random = Math.random, onAttempt = () => {}, scrub = (text) => text
}: SenderOptions): Sender {
  const inFlight = new Map<string, number>()
  const controllers = new Set<AbortController>()
  const settling = new Set<Promise<void>>()
  let running = false
  let passing: Promise<void> | undefined
  let again = false
  let poll: Timer | undefined
  let stopping = false

  function schedulePoll (): void {
    timers.clearTimeout(poll)
    if (!running) return
    poll = timers.setTimeout(() => { kick() }, pollMs)
    poll.unref()
  }

  function kick (): void {
    if (!running) return
    if (passing !== undefined) {
      again = true
      return
    }
    passing = (async () => {
      for (;;) {
        again = false
        try {
          await pass()
        } catch (err) {
          log.warn({ err }, 'the notification sender could not read the outbox; it tries again')
        }
        if (!again || !running) return
      }
    })().finally(() => {
      passing = undefined
      // A kick between the last pass and here found a pass still running: it is not lost.
      if (again && running) kick()
      else schedulePoll()
    })
  }

  async function pass (): Promise<void> {
    const now = timers.now()
    const leaseMs = timeoutMs + 30_000
    for (const name of await outbox.dueReceivers(now)) {
      if (!running) return
      const free = perReceiver - (inFlight.get(name) ?? 0)
      if (free <= 0) continue
      // Held for the timeout and a margin: a sender that dies mid-attempt leaves it due again after that.
      for (const entry of await outbox.claim(name, now, leaseMs, free)) {
        if (entry.groupMs === undefined || entry.attempts > 0) {
          track(attempt([entry]))
          continue
        }
        // The first of a group is due: the receiver's other grouped ones, due or not, go with it.
        const rest = (await outbox.claimGroup(name, now, leaseMs, GROUP_MAX)).filter((other) => other.id !== entry.id)
        track(attempt([entry, ...rest.slice(0, GROUP_MAX - 1)]))
      }
    }
  }

  function track (done: Promise<void>): void {
    settling.add(done)
    void done.finally(() => settling.delete(done))
  }

  /** What an attempt at a failed entry leaves: tried again after a backoff, or given up at the give-up time. */
  function failed (entry: OutboxEntry, record: DeliveryAttempt, now: number): number | undefined {
    const deadline = entry.createdAt + giveUpMs
    if (now >= deadline) {
      record.result = 'failed'
      return undefined
    }
    record.result = 'retrying'
    return Math.min(deadline, now + backoff(record.attempt, firstBackoffMs, maxBackoffMs, random))
  }

  /** One attempt at one message: an entry, or a group of one receiver's entries sent together. */
  async function attempt (entries: OutboxEntry[]): Promise<void> {
    const first = entries[0] as OutboxEntry
    inFlight.set(first.receiver, (inFlight.get(first.receiver) ?? 0) + 1)
    const controller = new AbortController()
    controllers.add(controller)
    const timer = timers.setTimeout(() => controller.abort(), timeoutMs)
    timer.unref()
    let status: number | undefined
    let error: string | undefined
    let result: 'delivered' | 'failed' | 'failure' = 'delivered'
    try {
      const target = receiver(first.receiver)
      if (target === undefined) {
        result = 'failed'
        error = 'the receiver is no longer in NOTIFY_FILE'
      } else {
        try {
          status = (await deliver(target, entries, controller.signal)).status
        } catch (err) {
          if (stopping) {
            // Cut by a stop, not failed: given back without counting it.
            for (const entry of entries) await outbox.release(entry.id, timers.now())
            return
          }
          const failure = failureOf(err, controller.signal)
          status = failure.status
          error = scrub(failure.message).slice(0, 300)
          result = 'failure'
        }
      }
      const at = timers.now()
      for (const entry of entries) {
        const record: DeliveryAttempt = {
          deliveryId: entry.id,
          alertId: entry.alertId,
          eventId: entry.event.id,
          receiver: entry.receiver,
          kind: entry.kind,
          attempt: entry.attempts + 1,
          at,
          result: result === 'failure' ? 'retrying' : result
        }
        if (status !== undefined) record.status = status
        if (error !== undefined) record.error = error
        const retryAt = result === 'failure' ? failed(entry, record, at) : undefined
        await outbox.settle(entry.id, retryAt === undefined ? { attempt: record } : { attempt: record, retryAt })
        onAttempt(record)
        if (record.result !== 'delivered') {
          log.warn({ receiver: entry.receiver, delivery: entry.id, attempt: record.attempt, status: record.status, error: record.error, result: record.result }, record.result === 'failed' ? 'notification given up' : 'notification failed; it is tried again')
        }
      }
    } catch (err) {
      log.error({ err: new Error(scrub((err as Error).message ?? 'error')), receiver: first.receiver, delivery: first.id }, 'the notification attempt could not be recorded; it is tried again when its claim ends')
    } finally {
      timers.clearTimeout(timer)
      controllers.delete(controller)
      inFlight.set(first.receiver, (inFlight.get(first.receiver) ?? 1) - 1)
      // A slot is free: look again, for this receiver's next ones.
      if (running) kick()
    }
  }

  return {
    start () {
      if (running) return
      running = true
      stopping = false
      kick()
    },
    kick,
    async stop () {
      running = false
      stopping = true
      timers.clearTimeout(poll)
      for (const controller of controllers) controller.abort()
      await passing
      await Promise.allSettled([...settling])
    },
    async idle () {
      for (;;) {
        const pending = passing
        if (pending === undefined && settling.size === 0) return
        await pending
        await Promise.allSettled([...settling])
      }
    }
  }
}
