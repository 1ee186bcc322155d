import { randomUUID } from 'node:crypto'
import type { Draft, Event, EventOf } from '../../schemas/events'
import type { EventStore } from './backend'

/** The one path every event takes, whoever publishes it: stamp, then append (which fans it out). */
export interface Publisher {
  publish: <D extends Draft>(draft: D) => Promise<EventOf<D['type']>>
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

export function createPublisher (store: EventStore, now: () => number = Date.now): Publisher {
  const listeners: Array<(event: Event) => void> = []
  return {
    async publish (draft) {
      const event = stamp(draft, now)
      await store.append(event)
      for (const listener of listeners) listener(event)
      return event
    },
    onPublish (listener) {
      listeners.push(listener)
    }
  }
}
