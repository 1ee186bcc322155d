import fp from 'fastify-plugin'
import { commaList } from './config'
import { httpError } from '../../schemas/errors'

/** Whether a browser's Origin names the host it is talking to. */
export function sameOrigin (origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase()
  } catch {
    return false
  }
}

// Browsers send WebSocket upgrades cross-site without any CORS check, so a
// page on another site could read the stream with the user's cookies
// (cross-site WebSocket hijacking). Non-browser clients send no Origin, and
// a page served by this server itself (the dashboard) is same-origin.
export default fp(async function origin (fastify) {
  const origins = commaList(fastify.config.CORS_ORIGINS_ALLOWED)
  if (origins.includes('*')) return
  fastify.addHook('onRequest', async (request) => {
    const origin = request.headers.origin
    if (request.ws && origin !== undefined && !origins.includes(origin) && !sameOrigin(origin, request.headers.host)) {
      throw httpError(403, `origin ${origin} is not allowed`)
    }
  })
}, { name: 'origin', fastify: '5.x', dependencies: ['config'], decorators: { request: ['ws'] } })
