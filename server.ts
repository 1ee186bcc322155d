import closeWithGrace from 'close-with-grace'
import { build, loggerOptions } from './app'
import { LOG_LEVELS } from './schemas/config'

const IN_FLIGHT_GRACE_MS = 5_000
const SHUTDOWN_LIMIT_MS = 10_000

async function main (): Promise<void> {
  // The level is read before the configuration is validated; an invalid
  // LOG_LEVEL still stops start-up below with a message naming it.
  const level = (LOG_LEVELS as readonly string[]).includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL as string : 'info'
  const fastify = build(loggerOptions(level, process.stdout.isTTY))

  try {
    await fastify.ready()
  } catch (err) {
    // Invalid configuration lands here, e.g. "env/PORT must be integer".
    console.error(`Cannot start: ${(err as Error).message}`)
    process.exit(1)
  }

  closeWithGrace({ delay: SHUTDOWN_LIMIT_MS }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
    else fastify.log.info({ signal }, 'shutting down')
    // In-flight requests get a grace period; then connections still open (a
    // browser's pre-opened socket that never sends a request would otherwise
    // hold the server open for its 60 s header timeout) are cut, so the
    // process still ends cleanly, before close-with-grace's hard limit.
    const cut = setTimeout(() => fastify.server.closeAllConnections(), IN_FLIGHT_GRACE_MS).unref()
    await fastify.close()
    clearTimeout(cut)
  })

  await fastify.listen({ port: fastify.config.PORT, host: fastify.config.HOST })
}

void main()
