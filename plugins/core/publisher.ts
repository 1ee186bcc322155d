import { randomUUID } from 'node:crypto'
import type { Draft, Event, EventOf } from '../../schemas/events'
import type { EventStore } from './backend'
import { IdempotencyConflictError } from './errors'

/** The one path every event takes, whoever publishes it: stamp, then append (which fans it out). */
export interface Publisher {
  publish: <D extends Draft>(draft: D) => Promise<EventOf<D['type']>>
  /**
   * Publishes at most once per idempotency key (within the store's window):
   * a repeat of the same draft gets the event of the first (`replayed: true`)
   * and publishes nothing; another draft under a used key is refused with
   * IdempotencyConflictError.
   */
  publishOnce: <D extends Draft>(draft: D, key: string) => Promise<{ event: EventOf<D['type']>, replayed: boolean }>
  /** Called after each event published by this instance has been stored. */
  onPublish: (listener: (event: Event) => void) => void
}

/** Builds the event a client sees; only the known fields are copied, in wire order. */
export function stamp<D extends Draft> (draft: D, now: () => number = Date.now): EventOf<D['type']> {
  const id = randomUUID()
  const timestamp = new Date(now()).toISOString()
  const d: Draft = draft
  const event = d.type === 'alert'
    ? { id, timestamp, type: 'alert' as const, message: d.message, location: d.location }
    : { id, timestamp, type: 'chat' as const, sender: d.sender, message: d.message }
  return event as EventOf<D['type']>
}

/** Whether a stored event is what `draft` would publish (the fields a client sets). */
export function sameDraft (event: Event, draft: Draft): boolean {
  if (event.type === 'alert') return draft.type === 'alert' && event.message === draft.message && event.location === draft.location
  return draft.type === 'chat' && event.sender === draft.sender && event.message === draft.message
}

export interface PublisherOptions {
  now?: () => number
  /** How long an idempotency key is remembered. */
  idempotencyTtlMs?: number
}

export function createPublisher (store: EventStore, { now = Date.now, idempotencyTtlMs = 24 * 3600_000 }: PublisherOptions = {}): Publisher {
  const listeners: Array<(event: Event) => void> = []
  return {
    async publish (draft) {
      const event = stamp(draft, now)
      await store.append(event)
      for (const listener of listeners) listener(event)
      return event
    },
    async publishOnce (draft, key) {
      const { event, first } = await store.appendOnce(key, stamp(draft, now), idempotencyTtlMs)
      if (first) {
        for (const listener of listeners) listener(event)
      } else if (!sameDraft(event, draft)) {
        throw new IdempotencyConflictError('this Idempotency-Key was already used for a different request')
      }
      return { event: event as EventOf<typeof draft['type']>, replayed: !first }
    },
    onPublish (listener) {
      listeners.push(listener)
    }
  }
}
