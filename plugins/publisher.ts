import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { Draft, Event, EventOf } from '../schemas/events'
import type { EventStore } from './store'
import type { Broadcaster } from './broadcaster'

/** The one path every event takes, whoever publishes it: stamp, store, fan out. */
export interface Publisher {
  publish: <D extends Draft>(draft: D) => Promise<EventOf<D['type']>>
  /** Called after each event has been stored and handed to the broadcaster. */
  onPublish: (listener: (event: Event) => void) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    publisher: Publisher
  }
}

/** Builds the event a client sees; only the known fields are copied, in wire order. */
export function stamp<D extends Draft> (draft: D): EventOf<D['type']> {
  const id = randomUUID()
  const timestamp = new Date().toISOString()
  const d: Draft = draft
  const event = d.type === 'alert'
    ? { id, timestamp, type: 'alert' as const, message: d.message, location: d.location }
    : { id, timestamp, type: 'chat' as const, sender: d.sender, message: d.message }
  return event as EventOf<D['type']>
}

export function createPublisher (store: EventStore, broadcaster: Broadcaster): Publisher {
  const listeners: Array<(event: Event) => void> = []
  return {
    async publish (draft) {
      const event = stamp(draft)
      await store.append(event)
      await broadcaster.broadcast(event)
      for (const listener of listeners) listener(event)
      return event
    },
    onPublish (listener) {
      listeners.push(listener)
    }
  }
}

export default fp(async function publisher (fastify) {
  fastify.decorate('publisher', createPublisher(fastify.store, fastify.broadcaster))
}, { name: 'publisher', dependencies: ['store', 'broadcaster'] })
