import closeWithGrace from 'close-with-grace'
import { build, loggerOptions } from './app'

async function main (): Promise<void> {
  // The level is read before the configuration is validated; an invalid
  // LOG_LEVEL still stops start-up below with a message naming it.
  const level = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL as string : 'info'
  const fastify = build(loggerOptions(level, process.stdout.isTTY))

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
