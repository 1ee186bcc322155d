import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'

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

/**
 * The same headers go on every response, so helmet runs once, at start-up,
 * and each response gets the result (running it per request, as the
 * @fastify/helmet wrapper does, re-parses the CSP every time).
 */
export const SECURITY_HEADERS = helmetHeaders({
  frameguard: { action: 'deny' },
  hsts: { maxAge: 31536000, includeSubDomains: true },
  contentSecurityPolicy: {
    // The server is often reached over plain http on a LAN address; upgrading
    // its own requests to https would break the docs page there.
    directives: { upgradeInsecureRequests: null }
  }
})

export default fp(async function securityHeaders (fastify) {
  // A callback hook, not an async one: no promise and no extra tick per request.
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS)
    done()
  })
}, { name: 'security-headers', fastify: '5.x' })
