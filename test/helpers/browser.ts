import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Test } from 'tap'
import type { Teardown } from './app'

/** Where Debian and most Linux distributions put Chromium. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium'
const NAMES_ON_PATH = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

/** No sandbox (tests run as root in containers), and nothing that reaches for the network on its own. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run']

/** What the browser tests print when they cannot run: the fix, not a stack. */
export const CHROMIUM_FIX = 'install Chromium (e.g. apt-get install chromium) or set CHROMIUM_PATH to a Chrome or Chromium executable'

function executable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/**
 * The Chromium the browser tests drive: CHROMIUM_PATH when set (and then only
 * that one, so that a wrong setting is reported rather than silently replaced),
 * else /usr/bin/chromium, else the first Chrome or Chromium on the PATH.
 */
export function findChromium (env: NodeJS.ProcessEnv = process.env, fallback = DEFAULT_CHROMIUM): { path: string } | { reason: string } {
  const configured = env.CHROMIUM_PATH
  if (configured !== undefined && configured !== '') {
    return executable(configured) ? { path: configured } : { reason: `CHROMIUM_PATH=${configured} is not an executable file` }
  }
  if (executable(fallback)) return { path: fallback }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of NAMES_ON_PATH) {
      if (executable(join(dir, name))) return { path: join(dir, name) }
    }
  }
  return { reason: `no Chromium found (CHROMIUM_PATH is not set, there is no ${fallback}, and none of ${NAMES_ON_PATH.join(', ')} is on the PATH)` }
}

let found: ReturnType<typeof findChromium> | undefined
const chromium = (): ReturnType<typeof findChromium> => (found ??= findChromium())

/** CI is set: what a developer's run may skip must run there. */
export const underCI = (): boolean => process.env.CI !== undefined && process.env.CI !== ''

type Declare = (name: string, fn: (t: Test) => Promise<void>, options?: { skip?: string | false }) => void

/**
 * How a browser test file declares its tests. Without a Chromium, a developer's
 * run skips the whole file with one message naming the fix, and its tests are
 * never declared; under CI (the CI variable set) the file fails instead, so CI
 * never skips a browser test.
 */
export function browserTests (t: Test): Declare {
  const found = chromium()
  if ('path' in found) return (name, fn, options = {}) => { void t.test(name, options, fn) }
  if (underCI()) {
    void t.test('a Chromium to drive the browser tests', async (t) => {
      t.fail(`${found.reason}, and CI is set: the browser tests must run in CI; ${CHROMIUM_FIX}`)
    })
  } else {
    t.plan(0, `${found.reason}: browser tests skipped; to run them, ${CHROMIUM_FIX}`)
  }
  return () => {}
}

/** The Chromium found; throws with the fix when there is none. */
export function chromiumPath (): string {
  const found = chromium()
  if (!('path' in found)) throw new Error(`${found.reason}: ${CHROMIUM_FIX}`)
  return found.path
}

/**
 * The Chromium found (or `executablePath`, e.g. a wrapper that starts it in
 * another network namespace), driven by playwright-core; closed when the test ends.
 */
export async function launchBrowser (t: Teardown, executablePath = chromiumPath()): Promise<import('playwright-core').Browser> {
  const { chromium: launcher } = await import('playwright-core')
  const browser = await launcher.launch({ executablePath, args: CHROMIUM_ARGS })
  t.teardown(async () => await browser.close())
  return browser
}
