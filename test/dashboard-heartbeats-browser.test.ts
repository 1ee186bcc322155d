import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { mockTimers } from './helpers/clock'

t.setTimeout(600_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

async function open (t: Teardown, url: string): Promise<{ page: Page, problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1200 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  await page.goto(url)
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: 15_000 })
  return { page, problems }
}

/** The monitors as the page lists them: name, state badge, schedule. */
async function shown (page: Page): Promise<string[]> {
  return await page.locator('#heartbeat-list li').evaluateAll((items) => items.map((item) =>
    [item.querySelector('.monitor-name')?.textContent, item.querySelector('.heartbeat-state')?.textContent, item.querySelector('.monitor-schedule')?.textContent].join(' | ')))
}

test('the heartbeat monitors: missed first, then by deadline, with their schedule, last ping and deadline; a ping moves one back', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, url } = await listen(t, { WS_HEARTBEAT_MS: 0 }, { timers })
  const ping = async (path: string): Promise<void> => {
    const res = await fastify.inject({ url: `/heartbeats/${path}` })
    if (res.statusCode !== 200) throw new Error(res.body)
  }
  await ping('alpha/ping?every=1h')
  await ping('beta/ping?every=1m&grace=0s')
  await ping('gamma/start?schedule=0+3+*+*+*&tz=Europe/Berlin&grace=2h')
  await ping('delta/ping?every=10m')
  clock.advance(61_000)
  await fastify.heartbeats.check()
  await ping('delta/fail')

  const { page, problems } = await open(t, url)
  await page.locator('#heartbeats-panel').waitFor({ state: 'visible' })
  await page.locator('#heartbeat-list li').nth(3).waitFor()
  t.same(await shown(page), [
    'beta | Missed | every 1m',
    'delta | Missed | every 10m',
    'alpha | Up | every 1h',
    'gamma | Running | 0 3 * * * (Europe/Berlin)'
  ], 'missed first (the older deadline first), then the nearest deadline: alpha\'s (1h 1m) before the run\'s (its start + 2h)')
  const beta = page.locator('#heartbeat-list li[data-name="beta"]')
  t.ok(await beta.evaluate((item) => item.classList.contains('state-missed')))
  t.match(await beta.locator('.monitor-last').textContent(), /^last ping /)
  t.match(await beta.locator('.monitor-due').textContent(), /^deadline /)
  t.equal(await beta.locator('.monitor-due time').getAttribute('datetime'), new Date(clock.now() - 1000).toISOString())

  // beta pings: its alert is resolved, and the page reads the monitors again.
  await ping('beta/ping')
  await page.waitForFunction(() => document.querySelector('#heartbeat-list li[data-name="beta"] .heartbeat-state')?.textContent === 'Up')
  t.equal((await shown(page))[0], 'delta | Missed | every 10m', 'delta alone is missed now')
  t.same(problems, [])
})

test('no monitors, no panel', async (t) => {
  const { url } = await listen(t)
  const { page, problems } = await open(t, url)
  await page.waitForFunction(() => document.querySelector('#chat-empty') !== null)
  t.notOk(await page.locator('#heartbeats-panel').isVisible())
  t.same(problems, [])
})
