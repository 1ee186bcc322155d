import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/** A JSON POST over a real socket; resolves with the status and the parsed body. */
export async function post (url: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

export async function getJson (url: string): Promise<Record<string, unknown>> {
  return await (await fetch(url)).json() as Record<string, unknown>
}

/** POST /alerts through inject. */
export async function postAlert (fastify: FastifyInstance, payload: unknown = { message: 'm', location: 'l' }, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await fastify.inject({ method: 'POST', url: '/alerts', payload: payload as Record<string, unknown>, headers })
}

/** POST /message through inject. */
export async function postChat (fastify: FastifyInstance, payload: unknown = { sender: 's', message: 'm' }, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await fastify.inject({ method: 'POST', url: '/message', payload: payload as Record<string, unknown>, headers })
}
