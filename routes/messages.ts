import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Chat, ChatHistory, ChatInput, PublishHeaders } from '../schemas/events'
import { apiErrors, publishErrors } from '../schemas/errors'
import { actor, publishRequest } from './shared'

const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  const { publisher, backend: { store } } = fastify
  const { HISTORY_SIZE } = fastify.config

  fastify.post('/message', {
    config: { scope: 'publish' },
    schema: {
      tags: ['chat'],
      summary: 'Send a chat message',
      description: 'Stores the message and sends it to every WebSocket client. Unknown fields are ignored. With a named credential (a TOKENS_FILE entry or a JWT), `sender` is its name and the body\'s is ignored. With an Idempotency-Key header a retry is safe: it gets the first result and publishes nothing.',
      body: ChatInput,
      headers: PublishHeaders,
      response: { 200: Chat, ...publishErrors }
    }
  }, async (request, reply) => await publishRequest(publisher, { type: 'chat', ...request.body, sender: actor(request, request.body.sender) }, request.headers['idempotency-key'], reply))

  fastify.get('/message', {
    config: { scope: 'subscribe' },
    schema: {
      tags: ['chat'],
      summary: 'The most recent chat messages, oldest first',
      response: { 200: ChatHistory, ...apiErrors }
    }
  }, async () => {
    const list = await store.chats(HISTORY_SIZE)
    return { chatMessages: list, count: list.length }
  })
}

export default messages
