import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { commaList } from './config'
import { httpError } from './errors'

/** The response headers helmet sets for these options. */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader (name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {})
  return headers
}

/** Whether a browser's Origin names the host it is talking to. */
export function sameOrigin (origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase()
  } catch {
    return false
  }
}

export default fp(async function security (fastify) {
  const { CORS_ORIGINS_ALLOWED, CORS_CREDENTIAL, CORS_METHODS_ALLOWED, CORS_HEADERS_ALLOWED } = fastify.config
  const origins = commaList(CORS_ORIGINS_ALLOWED)
  const anyOrigin = origins.includes('*')
  await fastify.register(cors, {
    // With credentials a literal "*" is refused by browsers, so the caller's origin is echoed instead.
    origin: anyOrigin ? (CORS_CREDENTIAL ? true : '*') : origins,
    credentials: CORS_CREDENTIAL,
    methods: commaList(CORS_METHODS_ALLOWED),
    allowedHeaders: commaList(CORS_HEADERS_ALLOWED)
  })
  // Browsers send WebSocket upgrades cross-site without any CORS check, so a
  // page on another site could read the stream with the user's cookies
  // (cross-site WebSocket hijacking). Non-browser clients send no Origin, and
  // a page served by this server itself (the dashboard) is same-origin.
  if (!anyOrigin) {
    fastify.addHook('onRequest', async (request) => {
      const origin = request.headers.origin
      if (request.ws && origin !== undefined && !origins.includes(origin) && !sameOrigin(origin, request.headers.host)) {
        throw httpError(403, `origin ${origin} is not allowed`)
      }
    })
  }

  // The same headers go on every response, so helmet runs once, at start-up,
  // and each response gets the result (running it per request, as the
  // @fastify/helmet wrapper does, re-parses the CSP every time).
  const headers = helmetHeaders({
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31536000, includeSubDomains: true },
    contentSecurityPolicy: {
      // The server is often reached over plain http on a LAN address; upgrading
      // its own requests to https would break the docs page there.
      directives: { upgradeInsecureRequests: null }
    }
  })
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.headers(headers)
  })
}, { name: 'security', dependencies: ['config', 'broadcaster'] })
