import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpError } from '../../schemas/errors'

export type Guard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook that lets through only requests bearing `token`; an empty token lets everything through. */
    bearerGuard: (token: string) => Guard
  }
}

// Hashing first gives both sides the same length, so the comparison time
// says nothing about the token.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export function sameToken (given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/** The token a request carries: `Authorization: Bearer <token>`, or `?token=` on a WebSocket upgrade (browsers cannot set headers there). */
export function presentedToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1] ?? ''
  }
  if (request.ws) {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    if (typeof token === 'string') return token
  }
  return undefined
}

export default fp(async function auth (fastify) {
  fastify.decorate('bearerGuard', (token: string): Guard => async (request, reply) => {
    if (token === '') return
    const given = presentedToken(request)
    if (given !== undefined && sameToken(given, token)) return
    reply.header('www-authenticate', 'Bearer')
    throw httpError(401, given === undefined
      ? 'a token is required: send Authorization: Bearer <token>' + (request.ws ? ' or ?token=<token>' : '')
      : 'the token is not valid')
  })
}, { name: 'auth', fastify: '5.x', dependencies: ['errors'], decorators: { request: ['ws'] } })
