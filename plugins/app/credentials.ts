import fp from 'fastify-plugin'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { createCredentials, parseTokensFile, type Credentials, type TokenEntry } from '../core/credentials'
import { coalesced } from '../core/coalesce'

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

  async function load (): Promise<boolean> {
    const read = await readEntries(file)
    if (typeof read === 'string') {
      fastify.log.error({ file, problem: read }, 'TOKENS_FILE not reloaded: the previous entries stay in force')
      return false
    }
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
    // The directory, not the file: editors and deploy tools replace a file by
    // renaming another over it, which a watch on the file itself would miss.
    // Any change in it re-reads the file, not only one under the file's name:
    // Kubernetes updates a mounted Secret or ConfigMap by swapping a `..data`
    // symlink that the file's own symlink goes through, so the file's name
    // never appears. A read that finds the same text does nothing.
    const watcher: FSWatcher = watch(dirname(file), { persistent: false }, () => { void reload() })
    watcher.on('error', (err) => fastify.log.error({ err }, 'TOKENS_FILE watch failed; reload with SIGHUP'))
    const onHangup = (): void => { void reload() }
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
