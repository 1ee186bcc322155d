import type { Teardown } from './app'

/** Debian's chromium driven by playwright-core; closed when the test ends. */
export async function launchBrowser (t: Teardown): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(async () => await browser.close())
  return browser
}
