import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { confirmWipeErrors, httpError } from '../schemas/errors'

const Confirmed = Type.Object({
  confirmed: Type.Literal(true),
  wasWiped: Type.Boolean({ description: 'Whether this instance had found the Redis wiped (its /ready answered REDIS_WIPED).' }),
  monitorsRestored: Type.Integer({ minimum: 0, description: 'Heartbeat monitors this instance knew before the wipe, written back with their settings and last ping.' })
})

const admin: FastifyPluginAsyncTypebox = async (fastify) => {
  // No body is needed and one is ignored, whatever its type: read (up to the body limit) and dropped.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
  const { backend } = fastify

  fastify.post('/admin/redis/confirm-wipe', {
    config: { scope: 'admin' },
    schema: {
      tags: ['operations'],
      summary: 'Confirm that the Redis was wiped, so that /ready answers ready again',
      description: 'When Redis loses this deployment\'s keys while the server runs (FLUSHALL, a new empty Redis), /ready answers 503 REDIS_WIPED ' +
        'until an operator has looked. This writes the keyspace marker again (every instance is ready again at its next check, within 10 s) ' +
        'and restores the heartbeat monitors this instance knew, with their last ping, so that a silent job is still noticed. No body is needed.',
      response: { 200: Confirmed, ...confirmWipeErrors }
    }
  }, async () => {
    if (backend.wipes === undefined) throw httpError('NOT_ON_REDIS', `this server keeps its events in ${backend.kind === 'sqlite' ? 'an SQLite file' : 'memory'}, not in Redis: there is no Redis wipe to confirm`)
    return { confirmed: true as const, ...await backend.wipes.confirm() }
  })
}

export default admin
