import type { Event } from '../../schemas/events'
import type { DeliveryAttempt, Outbox, OutboxDraft, OutboxEntry, Silence, SilenceStore } from './backend'
import { alertOf } from './lifecycle'

// Finished entries and attempts kept for GET /notifications and the
// timelines: memory keeps nothing across restarts, and only this many.
const FINISHED_KEPT = 1000
const ATTEMPTS_KEPT = 10000

export interface MemoryOutbox extends Outbox {
  /** Writes the entries the router asks for; called in the same synchronous step as the append of `event`. */
  written: (event: Event) => void
}

/** The outbox of one process: pending entries until delivered or given up, then the newest finished ones. */
export function createMemoryOutbox (now: () => number = Date.now): MemoryOutbox {
  let router: (event: Event) => OutboxDraft[] = () => []
  /** Every entry kept, in the order written (Map keeps insertion order). */
  const entries = new Map<string, OutboxEntry>()
  /** The pending entries of each receiver, in the order written: what dueReceivers and claim read. */
  const pendingOf = new Map<string, Map<string, OutboxEntry>>()
  let finished = 0
  const attempts: DeliveryAttempt[] = []

  function forgetFinished (): void {
    for (const [id, entry] of entries) {
      if (finished <= FINISHED_KEPT) return
      if (entry.status === 'pending') continue
      entries.delete(id)
      finished--
    }
  }

  const copy = (entry: OutboxEntry): OutboxEntry => ({ ...entry })

  function write (event: Event, drafts: OutboxDraft[]): void {
    const alertId = alertOf(event)?.id ?? ''
    const at = now()
    for (const draft of drafts) {
      const entry: OutboxEntry = { ...draft, event, alertId, createdAt: at, status: 'pending', attempts: 0, due: at + (draft.groupMs ?? 0) }
      entries.set(draft.id, entry)
      let pending = pendingOf.get(draft.receiver)
      if (pending === undefined) pendingOf.set(draft.receiver, pending = new Map())
      pending.set(draft.id, entry)
    }
  }

  return {
    written (event) {
      const drafts = router(event)
      if (drafts.length > 0) write(event, drafts)
    },
    async enqueue (event, drafts) {
      write(event, drafts)
    },
    route (next) { router = next },
    async dueReceivers (at) {
      // A receiver's entries held by a claim are few (its sender's in flight): the first due one is found soon.
      const names: string[] = []
      for (const [name, pending] of pendingOf) {
        for (const entry of pending.values()) {
          if ((entry.due ?? 0) > at) continue
          names.push(name)
          break
        }
      }
      return names
    },
    async claim (receiver, at, leaseMs, limit) {
      const out: OutboxEntry[] = []
      for (const entry of pendingOf.get(receiver)?.values() ?? []) {
        if (out.length >= limit) break
        if ((entry.due ?? 0) > at) continue
        entry.due = at + leaseMs
        out.push(copy(entry))
      }
      return out
    },
    async claimGroup (receiver, at, leaseMs, limit) {
      const out: OutboxEntry[] = []
      for (const entry of entries.values()) {
        if (out.length >= limit) break
        if (entry.receiver !== receiver || entry.status !== 'pending' || entry.attempts > 0 || entry.groupMs === undefined) continue
        entry.due = at + leaseMs
        out.push(copy(entry))
      }
      return out
    },
    async settle (id, { attempt, retryAt }) {
      attempts.push(attempt)
      if (attempts.length > ATTEMPTS_KEPT) attempts.splice(0, attempts.length - ATTEMPTS_KEPT)
      const entry = entries.get(id)
      if (entry === undefined) return
      entry.attempts = attempt.attempt
      entry.lastAt = attempt.at
      if (attempt.status !== undefined) entry.lastStatus = attempt.status
      else delete entry.lastStatus
      if (attempt.error !== undefined) entry.lastError = attempt.error
      else delete entry.lastError
      if (attempt.result === 'retrying' && retryAt !== undefined) {
        entry.due = retryAt
        return
      }
      entry.status = attempt.result === 'delivered' ? 'delivered' : 'failed'
      delete entry.due
      const pending = pendingOf.get(entry.receiver)
      pending?.delete(id)
      if (pending?.size === 0) pendingOf.delete(entry.receiver)
      finished++
      forgetFinished()
    },
    async release (id, at) {
      const entry = entries.get(id)
      if (entry !== undefined && entry.status === 'pending') entry.due = at
    },
    async recent ({ receiver, status, limit }) {
      const out: OutboxEntry[] = []
      for (const entry of [...entries.values()].reverse()) {
        if (out.length >= limit) break
        if ((receiver === undefined || entry.receiver === receiver) && (status === undefined || entry.status === status)) out.push(copy(entry))
      }
      return out
    },
    async attempts (alertId) {
      return attempts.filter((a) => a.alertId === alertId).map((a) => ({ ...a }))
    },
    async depth () {
      let pending = 0
      let oldestAt: number | undefined
      for (const entry of entries.values()) {
        if (entry.status !== 'pending') continue
        pending++
        oldestAt = Math.min(oldestAt ?? Infinity, entry.createdAt)
      }
      return oldestAt === undefined ? { pending } : { pending, oldestAt }
    }
  }
}

/** Silences of one process. */
export function createMemorySilences (): SilenceStore {
  const silences = new Map<string, Silence>()
  return {
    async add (silence) { silences.set(silence.id, { ...silence, match: structuredClone(silence.match) }) },
    async list () { return [...silences.values()].sort((a, b) => a.startsAt - b.startsAt).map((s) => ({ ...s, match: structuredClone(s.match) })) },
    async remove (id) {
      const silence = silences.get(id)
      silences.delete(id)
      return silence
    }
  }
}
