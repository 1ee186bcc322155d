import fp from 'fastify-plugin'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createCredentials, parseTokensFile, type Credentials, type TokenEntry } from '../core/credentials'
import { coalesced } from '../core/coalesce'
import { watchFile } from '../core/file-watch'

export interface CredentialStore extends Credentials {
  /** Re-reads TOKENS_FILE; false (the previous entries kept) when it cannot be read or is not valid. */
  reload: () => Promise<boolean>
  /** Called after every reload that replaced the entries. */
  onChange: (listener: () => void) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    /** API_TOKEN, METRICS_TOKEN and TOKENS_FILE's named tokens, kept current with the file. */
    credentials: CredentialStore
  }
}

async function readEntries (file: string): Promise<{ text: string, entries: TokenEntry[] } | string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`
  }
  const entries = parseTokensFile(text)
  return typeof entries === 'string' ? entries : { text, entries }
}

// TOKENS_FILE is read at start-up (a bad file stops the start), then again on
// SIGHUP and whenever it changes, so tokens are added and revoked without a
// restart. A file that turns bad keeps the entries before it: a half-written
// file must not lock everyone out, nor let a revoked token back in.
export default fp(async function credentials (fastify) {
  const { API_TOKEN, METRICS_TOKEN, TOKENS_FILE } = fastify.config
  const store = createCredentials({ apiToken: API_TOKEN, metricsToken: METRICS_TOKEN, now: fastify.timers.now })
  const listeners: Array<() => void> = []
  const file = TOKENS_FILE === '' ? '' : resolve(TOKENS_FILE)

  // The text of the entries in force: a reload that reads the same text changes nothing.
  let loaded = ''

  // The problem last reported: a file that stays bad is reported once (and again at each SIGHUP), not at every event of its directory.
  let refused: string | undefined

  async function load (): Promise<boolean> {
    const read = await readEntries(file)
    if (typeof read === 'string') {
      if (read !== refused) fastify.log.error({ file, problem: read }, 'TOKENS_FILE not reloaded: the previous entries stay in force')
      refused = read
      return false
    }
    refused = undefined
    if (read.text === loaded) return true
    loaded = read.text
    store.replace(read.entries)
    fastify.log.info({ file, entries: read.entries.length }, 'TOKENS_FILE loaded')
    for (const listener of listeners) listener()
    return true
  }

  // Changes arrive in bursts (an editor's write is several events): one read
  // at a time, and one more after it if anything changed meanwhile.
  const reloadFile = coalesced(load)
  const reload = async (): Promise<boolean> => file === '' ? true : await reloadFile()

  if (file !== '') {
    const read = await readEntries(file)
    if (typeof read === 'string') throw new Error(`TOKENS_FILE ${file}: ${read}`)
    loaded = read.text
    store.replace(read.entries)
    // Re-read when it changes (core/file-watch.ts: a burst of writes once, only
    // events naming the file, a mounted Secret's swap, a symlink's target elsewhere).
    // A read that finds the same text does nothing.
    const watcher = watchFile(file, () => { void reload() }, (err) => { fastify.log.error({ err }, 'TOKENS_FILE watch failed; reload with SIGHUP') })
    // Asked for by hand: a file still bad is reported again.
    const onHangup = (): void => {
      refused = undefined
      watcher.retarget()
      void reload()
    }
    process.on('SIGHUP', onHangup)
    fastify.addHook('onClose', async () => {
      watcher.close()
      process.off('SIGHUP', onHangup)
    })
  }

  fastify.decorate('credentials', Object.assign(store, {
    reload,
    onChange: (listener: () => void) => { listeners.push(listener) }
  }))
}, { name: 'credentials', fastify: '5.x', dependencies: ['config', 'timers'] })
