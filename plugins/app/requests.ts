import type { FastifyRequest } from 'fastify'
import { addressKey } from '../core/address'

// What several plugins and routes read off a request: its route's config,
// whether it opens a subscription, and the keys the limits count it under.
// Plain functions, not a plugin: they read what the plugins put on the request.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route holds a stream of events open (GET /events): the connection caps and the origin check apply to it as to a WebSocket upgrade. */
    stream?: boolean
  }
}

/** The route's config; absent on a request built by hand. */
export const routeConfig = (request: FastifyRequest): FastifyRequest['routeOptions']['config'] | undefined =>
  (request.routeOptions as FastifyRequest['routeOptions'] | undefined)?.config

/** A WebSocket upgrade, or a request of a stream route: what the connection caps count. */
export const subscribes = (request: FastifyRequest): boolean => request.ws || routeConfig(request)?.stream === true

/**
 * The key of the client's address for the per-address limits: the address
 * (behind trusted proxies, the one they name), an IPv6 one by its network of
 * IPV6_SUBNET bits (core/address.ts). request.ip can be missing on an
 * injected WebSocket upgrade.
 */
export const clientAddress = (request: FastifyRequest): string =>
  addressKey(request.ip ?? request.socket?.remoteAddress ?? 'unknown', request.server.config.IPV6_SUBNET)

/** The key a request is rate-limited by: its named identity when it has one, its address otherwise. */
export function clientKey (request: FastifyRequest): string {
  const identity = request.identity
  if (identity?.named === true) return `identity:${identity.name}`
  return clientAddress(request)
}
