import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SCHEME_DESCRIPTION } from '../../schemas/identity'

function publicUrl (domain: string): string {
  return /^https?:\/\//.test(domain) ? domain : `http://${domain}`
}

export default fp(async function docs (fastify) {
  const { DOMAIN, API_TOKEN, TOKENS_FILE, JWT_SECRET, JWT_PUBLIC_KEY } = fastify.config
  const guarded = API_TOKEN !== '' || TOKENS_FILE !== '' || JWT_SECRET !== '' || JWT_PUBLIC_KEY !== ''
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Alert server',
        version: '1.0.0',
        description: [
          'Real-time alerts and chat. Every event published here is also sent, as one JSON text frame,',
          'to each client connected to the WebSocket at `GET /ws` (ws://host/ws).',
          'A client sends `{"sender": "...", "message": "..."}` over the socket to chat;',
          'a frame that is not valid gets `{"type": "error", "code": "...", "message": "..."}` back and the connection stays open.',
          'The WebSocket frames are described by the AsyncAPI document at [/asyncapi.json](/asyncapi.json).'
        ].join(' ')
      },
      // Without DOMAIN the document is relative to wherever it is served from.
      externalDocs: { description: 'AsyncAPI 3.0 document of the /ws channel', url: '/asyncapi.json' },
      servers: DOMAIN === '' ? [] : [{ url: publicUrl(DOMAIN) }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: SCHEME_DESCRIPTION }
        }
      },
      // The default when the server requires a token; every route of this
      // service declares its own (its scope, or [] when open).
      security: guarded ? [{ bearerAuth: [] }] : [],
      tags: [
        { name: 'alerts', description: 'Raise alerts and read their history.' },
        { name: 'chat', description: 'Send chat messages and read their history.' },
        { name: 'websocket', description: 'The live event stream.' },
        { name: 'integrations', description: 'Alertmanager\'s webhook and heartbeat monitors: monitoring that raises and resolves alerts.' },
        { name: 'operations', description: 'Health, readiness and metrics.' }
      ]
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'docs', fastify: '5.x', dependencies: ['config'] })
