import fp from 'fastify-plugin'
import { isIPv4 } from 'node:net'
import { commaList } from '../../schemas/config'
import { httpError } from '../../schemas/errors'
import { subscribes } from './requests'

/** The origin of a URL as a browser serializes it, or undefined when it has none. */
function originOf (url: string): string | undefined {
  try {
    const origin = new URL(url).origin
    return origin === 'null' ? undefined : origin
  } catch {
    return undefined
  }
}

/**
 * The origins of pages this server serves under its public name. A URL names
 * one; a bare host[:port] says nothing of the scheme (TLS may end at a proxy),
 * so it stands for that host over http and https, and no other scheme.
 */
export function publicOrigins (domain: string): string[] {
  if (domain === '') return []
  const urls = /^[a-z][a-z\d+.-]*:\/\//i.test(domain) ? [domain] : [`http://${domain}`, `https://${domain}`]
  return urls.map(originOf).filter((o): o is string => o !== undefined && /^https?:/.test(o))
}

// A loopback name cannot be rebound to another machine, and the port tells this
// server from any other local one.
function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'))
}

/**
 * Whether a browser page of `origin` may open the WebSocket: a listed origin or
 * one of DOMAIN's, compared as the browser serializes them (scheme, host and
 * port). The Host header plays no part: a DNS-rebound page sends its own
 * name there too. Without DOMAIN the server knows no public name, so besides
 * the list it takes only http(s) pages on a loopback host at the port the
 * connection came to (`localPort`), which only this server can have served.
 */
export function originPolicy (listed: string[], domain: string): (origin: string, localPort?: number) => boolean {
  const allowed = new Set([...listed.map((o) => originOf(o) ?? o), ...publicOrigins(domain)])
  return (origin, localPort) => {
    if (allowed.has(origin)) return true
    if (domain !== '' || localPort === undefined) return false
    let url: URL
    try { url = new URL(origin) } catch { return false }
    // Only the exact serialization a browser sends: no path, user or trailing slash.
    if (url.origin !== origin || (url.protocol !== 'http:' && url.protocol !== 'https:')) return false
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
    return isLoopback(url.hostname) && port === localPort
  }
}

// Browsers send WebSocket upgrades cross-site without any CORS check, so a
// page on another site could read the stream with the user's cookies
// (cross-site WebSocket hijacking). Non-browser clients send no Origin.
// GET /events gets the same check: one rule for every live stream.
export default fp(async function origin (fastify) {
  const origins = commaList(fastify.config.CORS_ORIGINS_ALLOWED)
  if (origins.includes('*')) return
  const allows = originPolicy(origins, fastify.config.DOMAIN)
  // A callback hook, not an async one: every request passes here, and one
  // that is not an upgrade costs a property read, no promise.
  fastify.addHook('onRequest', (request, _reply, done) => {
    const origin = request.headers.origin
    if (origin !== undefined && subscribes(request) && !allows(origin, request.socket?.localPort)) {
      done(httpError('ORIGIN_NOT_ALLOWED', `origin ${origin} is not allowed`))
      return
    }
    done()
  })
}, { name: 'origin', fastify: '5.x', dependencies: ['config'], decorators: { request: ['ws'] } })
