import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SCOPES, Whoami } from '../schemas/identity'
import { apiErrors } from '../schemas/errors'

const whoami: FastifyPluginAsyncTypebox = async (fastify) => {
  const { authEnforced } = fastify

  fastify.get('/whoami', {
    // Any valid credential: a page asks this first, to show who it is signed in as and what it may do.
    config: { identify: true },
    schema: {
      tags: ['operations'],
      summary: 'Who the token is: its name and scopes',
      description: 'The dashboard uses this to show "signed in as …" and to hide what the scopes do not allow. ' +
        '401 without a valid token when credentials are configured; without any, `open` is true and every scope is listed.',
      response: { 200: Whoami, ...apiErrors }
    }
  }, async (request) => {
    const identity = request.identity
    if (!authEnforced || identity === null) return { name: null, scopes: [...SCOPES], named: false, open: true }
    return {
      name: identity.name,
      scopes: identity.scopes,
      ...(identity.expires === undefined ? {} : { expires: new Date(identity.expires).toISOString() }),
      named: identity.named,
      open: false
    }
  })
}

export default whoami
