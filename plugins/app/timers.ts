import fp from 'fastify-plugin'
import { realTimers, type Timers } from '../core/timers'

declare module 'fastify' {
  interface FastifyInstance {
    /** The clock of the ticker, the heartbeat and the chat rate: the real one unless the app was given another. */
    timers: Timers
  }
}

export interface TimersOptions {
  /** Tests pass a mock clock here so that time moves when they say, not with the wall clock. */
  timers?: Timers
}

export default fp<TimersOptions>(async function timers (fastify, opts) {
  fastify.decorate('timers', opts.timers ?? realTimers)
}, { name: 'timers', fastify: '5.x' })
