import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { build, loggerOptions } from './app'
import { ConfigError, loadConfig, misspeltSettings } from './plugins/app/config'
import type { Config } from './schemas/config'

// In-flight requests get IN_FLIGHT_GRACE_MS; WebSocket clients as long to
// answer the 1001 close (see core/fanout.ts); SHUTDOWN_LIMIT_MS is the hard limit.
const IN_FLIGHT_GRACE_MS = 5_000
const SHUTDOWN_LIMIT_MS = 10_000

// The signals that stop the server. close-with-grace would stop it on SIGHUP
// too (and on the other fault signals it knows); SIGHUP reloads instead
// (TOKENS_FILE: plugins/app/credentials.ts; NOTIFY_FILE: plugins/app/notifications.ts),
// so it is skipped there.
const NOT_STOPPING: Array<'SIGHUP'> = ['SIGHUP']

/** Why the server could not start, in one line a person can act on. */
function startFailure (err: NodeJS.ErrnoException & { hostname?: string }, config?: Config): string {
  if (err instanceof ConfigError || config === undefined) return err.message
  const { PORT, HOST } = config
  switch (err.code) {
    case 'EADDRINUSE': return `port ${PORT} is already in use (set PORT)`
    case 'EACCES': return `no permission to listen on port ${PORT} (set PORT to 1024 or above)`
    case 'EADDRNOTAVAIL': return `address ${HOST} is not one of this machine's (set HOST)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL': return `host ${HOST} cannot be resolved (set HOST)`
    default: return err.message
  }
}

/** The line a person reads on start: where to look, which mode, whether tokens are needed. */
function startLine (fastify: FastifyInstance): string {
  const address = fastify.server.address()
  const port = address !== null && typeof address === 'object' ? address.port : fastify.config.PORT
  const host = ['0.0.0.0', '::', ''].includes(fastify.config.HOST) ? 'localhost' : fastify.config.HOST
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const { kind, description } = fastify.backend
  const mode = kind === 'memory' ? 'in memory (nothing kept across restarts)' : kind === 'sqlite' ? `in ${description}` : `on Redis at ${description}`
  const requiredBy = fastify.tokensRequiredBy
  const tokens = requiredBy.length > 0 ? `token required (${requiredBy.join(', ')})` : fastify.config.METRICS_TOKEN !== '' ? 'no token required except for /metrics' : 'no token required'
  const warning = fastify.storeWarning.text
  return `Alert server ready: dashboard ${base}/, docs ${base}/docs; events ${mode}; ${tokens}${kind === 'redis' && warning !== undefined ? `; ${warning}` : ''}`
}

/** Reads the configuration, builds and listens; or prints one line saying why not and exits 1. */
async function start (): Promise<FastifyInstance> {
  let config: Config | undefined
  try {
    config = loadConfig(process.env, { dotenv: true })
    const fastify = build(config, loggerOptions(config.LOG_LEVEL, process.stdout.isTTY))
    for (const warning of misspeltSettings(process.env, { dotenv: true })) fastify.log.warn(warning)
    await fastify.listen({ port: config.PORT, host: config.HOST })
    return fastify
  } catch (err) {
    // One line, no stack: the cause is almost always a setting to change.
    console.error(`Cannot start: ${startFailure(err as NodeJS.ErrnoException, config).split('\n')[0] ?? ''}`)
    process.exit(1)
  }
}

async function main (): Promise<void> {
  const app = await start()

  // A listener of its own keeps Node's default for SIGHUP (exit) away even
  // when nothing is reloadable (no TOKENS_FILE): a reload signal never stops
  // the server, whatever its configuration.
  process.on('SIGHUP', () => { app.log.info({ signal: 'SIGHUP' }, 'reloading: the server keeps serving') })

  closeWithGrace({ delay: SHUTDOWN_LIMIT_MS, skip: NOT_STOPPING }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    // In-flight requests get a grace period; then connections still open (a
    // browser's pre-opened socket that never sends a request would otherwise
    // hold the server open for its header timeout) are cut, so the process
    // still ends cleanly, before close-with-grace's hard limit.
    const cut = setTimeout(() => app.server.closeAllConnections(), IN_FLIGHT_GRACE_MS).unref()
    await app.close()
    clearTimeout(cut)
  })

  app.log.info(startLine(app))
}

void main()
