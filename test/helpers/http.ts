import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Event } from '../../schemas/events'

/** A JSON POST over a real socket; resolves with the status and the parsed body. */
export async function post (url: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

export async function getJson (url: string): Promise<Record<string, unknown>> {
  return await (await fetch(url)).json() as Record<string, unknown>
}

/** POST /alerts through inject; the response, whatever its status. */
export async function postAlert (fastify: FastifyInstance, payload: unknown = { message: 'm', location: 'l' }, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await fastify.inject({ method: 'POST', url: '/alerts', payload: payload as Record<string, unknown>, headers })
}

/** POST /message through inject; the response, whatever its status. */
export async function postChat (fastify: FastifyInstance, payload: unknown = { sender: 's', message: 'm' }, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await fastify.inject({ method: 'POST', url: '/message', payload: payload as Record<string, unknown>, headers })
}

/** An app (reached through inject) or the base URL of a listening one (reached over a real socket). */
export type Target = FastifyInstance | string

async function publish (target: Target, path: string, body: Record<string, string>): Promise<Event> {
  const { status, json } = typeof target === 'string'
    ? await post(`${target}${path}`, body).then(({ status, body }) => ({ status, json: body }))
    : await target.inject({ method: 'POST', url: path, payload: body }).then((res) => ({ status: res.statusCode, json: res.json() as Record<string, unknown> }))
  if (status !== 200) throw new Error(`POST ${path} answered ${status}: ${JSON.stringify(json)}`)
  return json as unknown as Event
}

/** Publishes an alert with POST /alerts and returns the stored event; any answer but 200 throws. */
export async function publishAlert (target: Target, message = 'm', location = 'l'): Promise<Event> {
  return await publish(target, '/alerts', { message, location })
}

/** Publishes a chat message with POST /message and returns the stored event; any answer but 200 throws. */
export async function publishChat (target: Target, message = 'm', sender = 's'): Promise<Event> {
  return await publish(target, '/message', { sender, message })
}

/**
 * Publishes 1 KB alerts straight through the publisher, in batches of 20 with
 * a turn of the event loop between them (a client that reads keeps up; one
 * that does not can only fall behind), while `going` holds, at most 40,000.
 * Returns the ids, in publish order.
 */
export async function publishWhile (fastify: FastifyInstance, going: () => boolean): Promise<string[]> {
  const message = 'x'.repeat(1000)
  const sent: string[] = []
  for (let batch = 0; going() && batch < 2000; batch++) {
    // Together, so that a store that commits per event-loop turn (SQLite) commits the 20 at once; a keyless alert is appended as publish() is called, in order.
    const start = sent.length
    const published = await Promise.all(Array.from({ length: 20 }, async (_, i) => await fastify.publisher.publish({ type: 'alert', message, location: `${start + i}` })))
    for (const alert of published) sent.push(alert.id)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return sent
}
