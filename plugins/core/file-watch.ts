import { lstatSync, realpathSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname, relative } from 'node:path'

/** How long a watched file's directory must be quiet after a change to the file before it is read again. */
export const QUIET_MS = 150

export interface FileWatch {
  /** Looks again at where a symlinked file points (after a SIGHUP, say); a change seen by the watch does so itself. */
  retarget: () => void
  close: () => void
}

/**
 * Calls `changed` when a configuration file (NOTIFY_FILE, TOKENS_FILE) may
 * have changed, once its directory has been quiet for `quietMs`.
 *
 * - The directory, not the file: editors and deploy tools replace a file by
 *   renaming another over it.
 * - Only events naming the file count (a log written beside it must not
 *   re-read it), unless the file is a symlink: a mounted ConfigMap or Secret
 *   changes by swapping its `..data` link beside it.
 * - A symlink to a file outside its directory (notify.yml ->
 *   /etc/alert-server/notify.yml) has the target's directory watched too, for
 *   events naming the target; looked at again after each change, as the link
 *   may point elsewhere by then. (A target below the file's directory, as a
 *   ConfigMap's, is seen by the first watch.)
 * - A burst of events (an editor's write, a copy in place) is one call, once
 *   it has been quiet, not halfway through.
 */
export function watchFile (file: string, changed: () => void, failed: (err: Error) => void, quietMs = QUIET_MS): FileWatch {
  const isLink = (): boolean => {
    try {
      return lstatSync(file).isSymbolicLink()
    } catch {
      return false
    }
  }
  let quiet: ReturnType<typeof setTimeout> | undefined
  const seen = (): void => {
    clearTimeout(quiet)
    quiet = setTimeout(() => {
      retarget()
      changed()
    }, quietMs)
    quiet.unref()
  }
  const watcher: FSWatcher = watch(dirname(file), { persistent: false }, (_event, name) => {
    if (name !== null && name !== basename(file) && !isLink()) return
    seen()
  })
  watcher.on('error', failed)

  let target: { path: string, watcher: FSWatcher } | undefined
  let open = true
  function retarget (): void {
    if (!open) return
    let path: string | undefined
    let home: string | undefined
    try {
      path = realpathSync(file)
      // The directory as the link's target is named: /var/run is /run, say.
      home = realpathSync(dirname(file))
    } catch {}
    const outside = path !== undefined && home !== undefined && relative(home, dirname(path)).startsWith('..')
    if (target !== undefined && target.path === path && outside) return
    target?.watcher.close()
    target = undefined
    if (path === undefined || !outside) return
    const name = basename(path)
    try {
      const targetWatcher = watch(dirname(path), { persistent: false }, (_event, changedName) => {
        if (changedName === null || changedName === name) seen()
      })
      targetWatcher.on('error', failed)
      target = { path, watcher: targetWatcher }
    } catch (err) {
      failed(err as Error)
    }
  }
  retarget()

  return {
    retarget,
    close () {
      open = false
      watcher.close()
      target?.watcher.close()
      clearTimeout(quiet)
    }
  }
}
