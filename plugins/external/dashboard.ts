import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The dashboard's folder. From the TypeScript sources this file is in
 * plugins/external/, so public/ is two levels up; compiled, it runs from
 * dist/plugins/external/, three levels up.
 */
export function publicDir (from: string = __dirname): string {
  const candidates = [join(from, '..', '..', 'public'), join(from, '..', '..', '..', 'public')]
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')))
  if (found === undefined) throw new Error(`dashboard: no index.html in ${candidates.join(' or ')}`)
  return found
}

/** Serves the dashboard page (public/) at /. */
export default fp(async function dashboard (fastify) {
  await fastify.register(fastifyStatic, {
    root: publicDir(),
    prefix: '/',
    // One route per file, listed at start-up: any other path keeps the app's JSON 404,
    // and no catch-all route competes with the API.
    wildcard: false,
    // reply.sendFile is not needed by anything, and the docs plugin serves its own files.
    decorateReply: false
  })
}, { name: 'dashboard', fastify: '5.x' })
