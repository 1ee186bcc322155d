import closeWithGrace from 'close-with-grace'
import { build } from './app'

async function main (): Promise<void> {
  const fastify = build({ level: process.env.LOG_LEVEL ?? 'info' })

  try {
    await fastify.ready()
  } catch (err) {
    // Invalid configuration lands here, e.g. "env/PORT must be integer".
    console.error(`Cannot start: ${(err as Error).message}`)
    process.exit(1)
  }

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
    else fastify.log.info({ signal }, 'shutting down')
    await fastify.close()
  })

  await fastify.listen({ port: fastify.config.PORT, host: fastify.config.HOST })
}

void main()
