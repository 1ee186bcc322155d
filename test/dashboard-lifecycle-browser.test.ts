import t from 'tap'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { stamp } from '../plugins/core/publisher'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'

// Several pages per test on a loaded machine: far more than the tap config's per-file default.
t.setTimeout(600_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

/** What the instrumented page records of its own calls. */
interface Calls {
  audioContexts: number
  oscillators: number
  notifications: Array<{ title: string, body: string }>
}
// Set on the page by instrument() below (test/tsconfig.browser.json gives these files the DOM library).
declare global {
  interface Window {
    __calls: Calls
    __setHidden: (hidden: boolean) => void
  }
}

// Runs in the page before its own script: records the Notification and
// AudioContext calls the page makes, and lets the test say whether the tab is
// hidden (a headless page is always visible).
function instrument (): void {
  const calls: Calls = { audioContexts: 0, oscillators: 0, notifications: [] }
  window.__calls = calls

  let hidden = false
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden })
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' })
  window.__setHidden = (value) => {
    hidden = value
    document.dispatchEvent(new Event('visibilitychange'))
  }

  const NativeNotification = window.Notification
  window.Notification = new Proxy(NativeNotification, {
    construct (target, args: [string, NotificationOptions?]) {
      calls.notifications.push({ title: args[0], body: args[1]?.body ?? '' })
      return Reflect.construct(target, args)
    }
  })

  window.AudioContext = new Proxy(window.AudioContext, {
    construct (target, args: [AudioContextOptions?]) {
      calls.audioContexts++
      return Reflect.construct(target, args)
    }
  })
  const createOscillator = BaseAudioContext.prototype.createOscillator
  BaseAudioContext.prototype.createOscillator = function (this: BaseAudioContext) {
    calls.oscillators++
    return createOscillator.call(this)
  }
}

interface Dashboard { page: Page, problems: string[] }

async function open (t: Teardown, url: string, options: BrowserContextOptions = {}, before?: (page: Page) => Promise<void>): Promise<Dashboard> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const d: Dashboard = { page, problems: [] }
  page.on('console', (msg) => { if (msg.type() === 'error') d.problems.push(msg.text()) })
  page.on('pageerror', (err) => d.problems.push(err.message))
  await page.addInitScript(instrument)
  await before?.(page)
  await page.goto(url)
  await connected(page)
  return d
}

const connected = async (page: Page, timeout = 15000): Promise<void> =>
  await page.locator('#status[data-state="connected"]').waitFor({ timeout })

type AlertBody = Record<string, unknown> & { message: string }

async function raise (fastify: FastifyInstance, body: AlertBody): Promise<Record<string, unknown> & { id: string }> {
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { location: 'North Gate', ...body } })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}

/** The card of the alert whose message is exactly `message`, wherever it is on the page. */
const card = (page: Page, message: string) =>
  page.locator('li.alert-item').filter({ has: page.locator('.message', { hasText: new RegExp(`^${message}$`) }) })

const messages = async (page: Page, list: string): Promise<string[]> => await page.locator(`${list} .message`).allTextContents()

const calls = async (page: Page): Promise<Calls> => await page.evaluate(() => window.__calls)

async function waitForTitle (page: Page, title: string): Promise<void> {
  await page.waitForFunction((title) => document.title === title, title)
}

/** Acknowledges or resolves from the page, giving `name` when the page asks for one. */
async function act (page: Page, message: string, action: 'Acknowledge' | 'Resolve', name?: string): Promise<void> {
  await card(page, message).getByRole('button', { name: action }).click()
  if (name !== undefined) {
    await page.locator('#identity-form').waitFor()
    await page.locator('#identity-input').fill(name)
    await page.locator('#identity-submit').click()
  }
}

test('acknowledge and resolve from two pages at once: each page sees the other\'s action live, with who and when', async (t) => {
  const { fastify, url } = await listen(t)
  await raise(fastify, { message: 'Door forced', severity: 'critical' })
  const a = await open(t, url)
  const b = await open(t, url)
  for (const { page } of [a, b]) await card(page, 'Door forced').waitFor()

  // Nobody has given a name on page A yet: it asks once.
  await act(a.page, 'Door forced', 'Acknowledge', 'Ana')
  const onB = card(b.page, 'Door forced')
  await onB.locator('.acknowledged-by', { hasText: 'Acknowledged by Ana, ' }).waitFor()
  t.equal(await onB.getAttribute('data-state'), 'acknowledged', 'page B saw the acknowledgement live')
  t.equal(await onB.locator('.state-badge').textContent(), 'Acknowledged')
  t.equal(await onB.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'no Acknowledge button once acknowledged')
  t.equal(await onB.locator('.acknowledged-by time').count(), 1, 'when, as a <time>')
  t.equal(await card(a.page, 'Door forced').getAttribute('data-state'), 'acknowledged', 'and page A too')
  t.equal(await a.page.locator('#identity-name').textContent(), 'Ana', 'page A says who it acts as')
  const server = (await fastify.inject('/alerts?state=acknowledged')).json().alerts
  t.match(server, [{ message: 'Door forced', acknowledgedBy: 'Ana' }], 'the server recorded the name')

  // Page B resolves; page A sees the card move to the resolved list.
  await act(b.page, 'Door forced', 'Resolve', 'Ben')
  const resolvedOnA = a.page.locator('#resolved-list li', { hasText: 'Door forced' })
  await resolvedOnA.locator('.resolved-by', { hasText: 'Resolved by Ben, ' }).waitFor({ state: 'attached' })
  t.equal(await a.page.locator('#alert-list li').count(), 0, 'gone from the open list on page A')
  t.equal(await a.page.locator('#resolved-group').evaluate((n) => n.tagName), 'DETAILS', 'resolved alerts are in a collapsible list')
  t.match(await a.page.locator('#resolved-group summary').textContent(), /Resolved \(1\)/)
  t.equal(await resolvedOnA.getByRole('button').count(), 0, 'a resolved alert has no buttons')
  await a.page.locator('#resolved-group summary').click()
  t.ok(await resolvedOnA.isVisible(), 'opening the list shows it')

  // The name is remembered: page A acts again without asking, and after a reload.
  await raise(fastify, { message: 'Second door', severity: 'warning' })
  await card(a.page, 'Second door').waitFor()
  await act(a.page, 'Second door', 'Acknowledge')
  await card(b.page, 'Second door').locator('.acknowledged-by', { hasText: 'Acknowledged by Ana' }).waitFor()
  t.ok(await a.page.locator('#identity-form').isHidden(), 'no second question')
  await a.page.reload()
  await connected(a.page)
  t.equal(await a.page.locator('#identity-name').textContent(), 'Ana', 'remembered after a reload')
  t.same(a.problems, [], 'no error on page A')
  t.same(b.problems, [], 'no error on page B')
})

test('raising the same key twice shows one card "x2"; resolving the key closes it; the key raised again opens a new card', async (t) => {
  const { fastify, url } = await listen(t)
  const { page } = await open(t, url)
  // From the page's own form: severity and key.
  await page.locator('#alert-severity').selectOption('critical')
  await page.locator('#alert-message').fill('Disk full')
  await page.locator('#alert-location').fill('db1')
  await page.locator('#alert-key').fill('disk-full:db1')
  await page.locator('#alert-submit').click()
  await card(page, 'Disk full').waitFor()
  t.equal(await card(page, 'Disk full').locator('.severity-badge').textContent(), 'Critical', 'the severity chosen in the form')
  t.equal(await card(page, 'Disk full').locator('.count-badge').count(), 0, 'no count for a single raise')

  // The same key again (elsewhere, with new words): the card is updated, not doubled.
  await raise(fastify, { message: 'Disk still full', location: 'db1', key: 'disk-full:db1', severity: 'critical' })
  await card(page, 'Disk still full').locator('.count-badge', { hasText: 'x2' }).waitFor()
  t.equal(await page.locator('#alert-list li').count(), 1, 'one card')
  t.equal(await card(page, 'Disk still full').locator('.alert-key').textContent(), 'key disk-full:db1')
  t.equal(await card(page, 'Disk still full').locator('.count-badge').getAttribute('title'), 'Raised 2 times')

  const res = await fastify.inject({ method: 'POST', url: '/alerts/resolve', payload: { key: 'disk-full:db1', by: 'cron' } })
  t.equal(res.statusCode, 200)
  await page.locator('#resolved-list li', { hasText: 'Disk still full' }).waitFor({ state: 'attached' })
  t.equal(await page.locator('#alert-list li').count(), 0)

  await raise(fastify, { message: 'Disk full again', location: 'db1', key: 'disk-full:db1', severity: 'critical' })
  await card(page, 'Disk full again').waitFor()
  t.equal(await page.locator('#alert-list li').count(), 1, 'a new card for the new incident')
  t.equal(await page.locator('#resolved-list li').count(), 1, 'the old one stays resolved')
  t.equal(await card(page, 'Disk full again').locator('.count-badge').count(), 0)
})

test('the board: most severe first then newest, a label per severity, counts in the header and the tab title', async (t) => {
  const { fastify, url } = await listen(t)
  await raise(fastify, { message: 'Info one', severity: 'info' })
  const critical1 = await raise(fastify, { message: 'Critical one', severity: 'critical' })
  await raise(fastify, { message: 'Warning one' }) // the default severity
  const critical2 = await raise(fastify, { message: 'Critical two', severity: 'critical', link: 'https://runbooks.example.com/door?x=1', tags: ['door', 'east'] })
  // Stored directly: the API refuses such a link, the page must not trust one either.
  await fastify.backend.store.append({ ...stamp({ type: 'alert', message: 'Sneaky link', location: 'Archive', severity: 'info' }), link: 'javascript:alert(1)' })
  const { page, problems } = await open(t, url)
  await card(page, 'Sneaky link').waitFor()

  t.same(await messages(page, '#alert-list'), ['Critical two', 'Critical one', 'Warning one', 'Sneaky link', 'Info one'])
  t.same(await page.locator('#alert-list .severity-badge').allTextContents(), ['Critical', 'Critical', 'Warning', 'Info', 'Info'],
    'each card names its severity in words')
  t.same(await page.locator('#alert-list .source-badge').allTextContents(), ['API', 'API', 'API', 'API', 'API'], 'the source as a badge')
  t.equal(await page.locator('#count-critical').textContent(), '2')
  t.equal(await page.locator('#count-warning').textContent(), '1')
  t.equal(await page.locator('#count-info').textContent(), '2')
  await waitForTitle(page, '(2) Alert dashboard')
  t.pass('the title counts the open critical alerts')

  const link = card(page, 'Critical two').locator('a.alert-link')
  t.equal(await link.getAttribute('href'), 'https://runbooks.example.com/door?x=1')
  t.equal(await link.getAttribute('target'), '_blank', 'opens in a new tab')
  t.equal(await link.getAttribute('rel'), 'noopener noreferrer')
  t.same(await card(page, 'Critical two').locator('.tag').allTextContents(), ['door', 'east'])
  t.equal(await card(page, 'Sneaky link').locator('a').count(), 0, 'a javascript: link is not made clickable')

  // Live: a new warning goes among the warnings, above the older one.
  await raise(fastify, { message: 'Warning two', severity: 'warning' })
  await card(page, 'Warning two').waitFor()
  t.same(await messages(page, '#alert-list'), ['Critical two', 'Critical one', 'Warning two', 'Warning one', 'Sneaky link', 'Info one'])
  await page.locator('#count-warning', { hasText: /^2$/ }).waitFor()

  // Acknowledged elsewhere: no longer counted as open; resolved: off the board.
  await fastify.inject({ method: 'POST', url: `/alerts/${critical1.id}/ack`, payload: { by: 'Ana' } })
  await waitForTitle(page, '(1) Alert dashboard')
  t.equal(await page.locator('#count-critical').textContent(), '1')
  t.equal(await page.locator('#count-acknowledged').textContent(), '1')
  t.same(await messages(page, '#alert-list'), ['Critical two', 'Critical one', 'Warning two', 'Warning one', 'Sneaky link', 'Info one'],
    'an acknowledged alert keeps its place')
  await fastify.inject({ method: 'POST', url: `/alerts/${critical2.id}/resolve` })
  await waitForTitle(page, 'Alert dashboard')
  t.equal(await page.locator('#count-critical').textContent(), '0')
  t.same(await messages(page, '#resolved-list'), ['Critical two'])
  t.same(problems, [])
})

test('automatic alerts are grouped apart, visibly automatic, and can be hidden; the choice is remembered', async (t) => {
  const { fastify, url } = await listen(t, { ALERT_INTERVAL_MS: 300 })
  await raise(fastify, { message: 'A person raised this', severity: 'info' })
  const { page } = await open(t, url)
  // Each tick resolves the one before: one automatic alert open, the earlier ones among the resolved.
  await page.locator('#resolved-list li.automatic').first().waitFor({ state: 'attached' })
  t.same(await messages(page, '#alert-list'), ['A person raised this'], 'the automatic alerts are not mixed into the board')
  // A tick resolves the previous alert, then raises the next: between the two
  // frames the group may be empty for a moment, so the count is read once it settles.
  // (Read again afterwards, the count could be caught between a tick's two frames: the wait is the check.)
  await page.waitForFunction(() => document.querySelectorAll('#auto-list li').length === 1 && document.querySelector('#auto-title')?.textContent === 'Automatic alerts (1)')
  t.pass('one automatic alert open, and the group\'s title counts it')
  t.equal(await page.locator('#auto-list li.automatic').first().locator('.source-badge').textContent(), 'Automatic')

  t.ok(await page.locator('#auto-toggle').isChecked(), 'shown by default, in their own group')
  await page.locator('#auto-toggle').uncheck()
  await page.locator('#auto-list').waitFor({ state: 'hidden' })
  t.equal(await page.locator('#auto-list li').count(), 0)
  t.ok(await page.locator('#auto-count').isVisible(), 'their number still shows')
  await page.reload()
  await connected(page)
  await card(page, 'A person raised this').waitFor()
  t.notOk(await page.locator('#auto-toggle').isChecked(), 'still hidden after a reload')
  t.equal(await page.locator('#auto-list li').count(), 0)
  await page.locator('#auto-toggle').check()
  await page.locator('#auto-list li').first().waitFor()
  t.pass('and shown again')
})

test('escalation: the card shows a critical alert nobody acknowledged being announced again; it beeps and, in a background tab, notifies', async (t) => {
  const { fastify, url } = await listen(t, { ESCALATE_AFTER_MS: 300 })
  const { page, problems } = await open(t, url, { permissions: ['notifications'] })
  await page.locator('#sound-toggle').click()
  await page.locator('#notify-toggle').click()
  await page.locator('#notify-toggle[aria-pressed="true"]').waitFor()
  await page.evaluate(() => window.__setHidden(true))

  await raise(fastify, { message: 'Nobody is on it', severity: 'critical' })
  const escalation = card(page, 'Nobody is on it').locator('.escalation')
  await escalation.waitFor({ state: 'attached' })
  t.match(await escalation.textContent(), /^Escalated (once|\d+ times), last (just now|\d+ s ago)$/)
  t.ok(await card(page, 'Nobody is on it').evaluate((n) => n.classList.contains('escalated')), 'the card is marked')
  await page.waitForFunction(() => window.__calls.notifications.some((n) => n.title === 'Escalated: Nobody is on it'))
  t.pass('an escalation notifies in a background tab')
  await page.waitForFunction(() => window.__calls.oscillators >= 4)
  t.pass('the raise and an escalation each beeped')

  // Acknowledged: escalation stops, and the card shows as many as the server made.
  await page.evaluate(() => window.__setHidden(false))
  await act(page, 'Nobody is on it', 'Acknowledge', 'Ana')
  await card(page, 'Nobody is on it').locator('.acknowledged-by').waitFor()
  const [alert] = (await fastify.inject('/alerts?state=acknowledged')).json().alerts
  const n = alert.escalations as number
  await escalation.filter({ hasText: n === 1 ? /^Escalated once/ : new RegExp(`^Escalated ${n} times`) }).waitFor({ state: 'attached' })
  t.notOk(await card(page, 'Nobody is on it').evaluate((n) => n.classList.contains('escalated')), 'no longer marked once acknowledged')
  t.same(problems, [])
})

test('sound and notifications are off until turned on, remembered, and only for new or escalated critical alerts', async (t) => {
  const { fastify, url } = await listen(t)
  const { page } = await open(t, url, { permissions: ['notifications'] })

  await raise(fastify, { message: 'Critical while off', severity: 'critical' })
  await card(page, 'Critical while off').waitFor()
  t.same(await calls(page), { audioContexts: 0, oscillators: 0, notifications: [] }, 'off by default: no audio, no notification')
  t.equal(await page.locator('#sound-toggle').getAttribute('aria-pressed'), 'false')

  await page.locator('#sound-toggle').click()
  await page.locator('#sound-toggle[aria-pressed="true"]').waitFor()
  t.equal((await calls(page)).audioContexts, 1, 'turning the sound on prepares the audio (a user gesture)')
  await raise(fastify, { message: 'A warning', severity: 'warning' })
  await card(page, 'A warning').waitFor()
  t.equal((await calls(page)).oscillators, 0, 'a warning makes no sound')
  await raise(fastify, { message: 'Critical with sound', severity: 'critical' })
  await card(page, 'Critical with sound').waitFor()
  t.ok((await calls(page)).oscillators > 0, 'a new critical alert plays a tone')

  await page.locator('#notify-toggle').click()
  await page.locator('#notify-toggle[aria-pressed="true"]').waitFor()
  await raise(fastify, { message: 'Critical in view', severity: 'critical' })
  await card(page, 'Critical in view').waitFor()
  t.same((await calls(page)).notifications, [], 'no notification while the tab is in view')
  await page.evaluate(() => window.__setHidden(true))
  await raise(fastify, { message: 'Critical in the background', severity: 'critical' })
  await card(page, 'Critical in the background').waitFor({ state: 'attached' })
  t.same((await calls(page)).notifications, [{ title: 'Critical: Critical in the background', body: 'North Gate' }], 'a notification in the background')
  await raise(fastify, { message: 'Warning in the background', severity: 'warning' })
  await card(page, 'Warning in the background').waitFor({ state: 'attached' })
  t.equal((await calls(page)).notifications.length, 1, 'none for a warning')

  await page.reload()
  await connected(page)
  t.equal(await page.locator('#sound-toggle').getAttribute('aria-pressed'), 'true', 'the sound stays on after a reload')
  t.equal(await page.locator('#notify-toggle').getAttribute('aria-pressed'), 'true', 'and notifications')
  t.equal((await calls(page)).notifications.length, 0, 'alerts loaded with the page do not notify again')

  await page.locator('#sound-toggle').click()
  await page.locator('#notify-toggle').click()
  await page.locator('#notify-toggle[aria-pressed="false"]').waitFor()
  await page.evaluate(() => window.__setHidden(true))
  const before = (await calls(page)).oscillators
  await raise(fastify, { message: 'Critical after turning off', severity: 'critical' })
  await card(page, 'Critical after turning off').waitFor({ state: 'attached' })
  const after = await calls(page)
  t.equal(after.oscillators, before, 'turned off: no tone')
  t.same(after.notifications, [], 'and no notification')
})

test('the board filters by severity and by words; locations show as given; times say how long ago, the full time on hover', async (t) => {
  const { fastify, url } = await listen(t)
  await raise(fastify, { message: 'Door forced', location: 'north gate', severity: 'critical', key: 'door:north', tags: ['east'] })
  await raise(fastify, { message: 'Disk full', location: 'DB1', severity: 'warning' })
  await raise(fastify, { message: 'Backup late', location: 'backup-Host', severity: 'info' })
  const { page, problems } = await open(t, url, {}, async (page) => { await page.clock.install() })
  await card(page, 'Backup late').waitFor()

  // As the server has it: a filter on location=backup-Host matches only that case.
  t.same(await page.locator('#alert-list .location').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).innerText)), ['north gate', 'DB1', 'backup-Host'])

  const shown = async (): Promise<string[]> => await messages(page, '#alert-list')
  await page.locator('#filter-severity').selectOption('warning')
  await page.waitForFunction(() => document.querySelectorAll('#alert-list li').length === 1)
  t.same(await shown(), ['Disk full'], 'one severity')
  t.equal(await page.locator('#filter-hidden').textContent(), '2 alerts hidden by the filter.')
  t.equal(await page.locator('#count-critical').textContent(), '1', 'the header still counts every open alert')

  await page.locator('#filter-severity').selectOption('')
  for (const [words, expected] of [['east', ['Door forced']], ['NORTH', ['Door forced']], ['door:north', ['Door forced']], ['backup-host', ['Backup late']], ['full db1', ['Disk full']], ['gate disk', []]] as const) {
    await page.locator('#filter-text').fill(words)
    await page.waitForFunction((n) => document.querySelectorAll('#alert-list li').length === n, expected.length)
    t.same(await shown(), expected, `search "${words}": message, location, key and tags, any case, every word`)
  }
  t.equal(await page.locator('#alerts-empty').textContent(), 'No open alerts match the filter.')
  await raise(fastify, { message: 'Gate disk sensor', location: 'Yard', severity: 'info' })
  await card(page, 'Gate disk sensor').waitFor()
  t.pass('a live alert that matches appears under the filter')
  await page.locator('#filter-text').fill('')
  await page.waitForFunction(() => document.querySelectorAll('#alert-list li').length === 4)
  t.ok(await page.locator('#filter-hidden').isHidden(), 'no filter, no hint')

  const time = card(page, 'Disk full').locator('time.raised-at')
  t.match(await time.textContent(), /^(just now|\d+ s ago)$/)
  t.match(await time.getAttribute('title'), new RegExp(String(new Date().getFullYear())), 'the full date and time on hover')
  // Three minutes on, without a reconnect (the ping comes every 25 s): the ages move on by themselves.
  await page.clock.setSystemTime(Date.now() + 3 * 60_000)
  await page.clock.runFor(15_000)
  t.equal(await time.textContent(), '3 min ago')
  t.same(problems, [])
})

test('a note typed on a card goes with Acknowledge and Resolve, is kept on the alert, and every page shows the notes', async (t) => {
  const { fastify, url } = await listen(t)
  await raise(fastify, { message: 'Disk full', severity: 'critical' })
  const a = await open(t, url)
  const b = await open(t, url)
  for (const { page } of [a, b]) await card(page, 'Disk full').waitFor()
  await card(a.page, 'Disk full').locator('input.note-input').fill('cleaning old logs')
  await act(a.page, 'Disk full', 'Acknowledge', 'Ana')
  await card(b.page, 'Disk full').locator('.alert-note', { hasText: '“cleaning old logs” (Ana)' }).waitFor()
  t.equal(await card(a.page, 'Disk full').locator('input.note-input').inputValue(), '', 'the field is emptied once sent')
  await card(a.page, 'Disk full').locator('input.note-input').fill('freed 40 GB')
  await act(a.page, 'Disk full', 'Resolve')
  const server = (await fastify.inject('/alerts?state=resolved')).json().alerts
  t.match(server, [{ message: 'Disk full', notes: [{ by: 'Ana', action: 'acknowledged', text: 'cleaning old logs' }, { by: 'Ana', action: 'resolved', text: 'freed 40 GB' }] }], 'both notes kept on the alert')
  await b.page.reload()
  await connected(b.page)
  const resolved = b.page.locator('#resolved-list li', { hasText: 'Disk full' })
  await resolved.locator('.alert-note', { hasText: 'freed 40 GB' }).waitFor({ state: 'attached' })
  t.equal(await resolved.locator('.alert-note').count(), 2, 'after a reload, both notes, from the alert itself')
  t.same(a.problems, [])
  t.same(b.problems, [])
})
