import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { bearer, tokensFile, type FileEntry } from './helpers/credentials'
import { waitFor } from './helpers/wait'

t.setTimeout(600_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

const token = (): string => randomBytes(24).toString('base64url')

/** The dashboard signed in with `value`, connected; `prepare` runs before it loads (a clock, a listener). */
async function open (t: Teardown, url: string, value: string, prepare?: (page: Page) => Promise<void>): Promise<{ page: Page, problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()) })
  await prepare?.(page)
  await page.goto(`${url}/?token=${encodeURIComponent(value)}`)
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: 10_000 })
  return { page, problems }
}

const card = (page: Page, message: string) =>
  page.locator('li.alert-item').filter({ has: page.locator('.message', { hasText: new RegExp(`^${message}$`) }) })

async function raise (fastify: FastifyInstance, value: string, body: Record<string, unknown>): Promise<void> {
  const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: bearer(value), payload: { location: 'Lobby', severity: 'critical', ...body } })
  if (res.statusCode !== 200) throw new Error(res.body)
}

test('an operator silences an alert\'s key from its card for 4 hours with a comment, sees it listed, and ends it', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const silences = async (): Promise<Array<Record<string, any>>> =>
    (await fastify.inject({ url: '/silences', headers: bearer(ops.token) })).json().silences
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  await raise(fastify, ops.token, { message: 'No key here' })
  const { page, problems } = await open(t, url, ops.token)

  await page.locator('#silences-panel').waitFor({ state: 'visible' })
  t.equal(await page.locator('#silences-empty').textContent(), 'No active silences.')
  const door = card(page, 'Door forced')
  await door.waitFor()
  await card(page, 'No key here').waitFor()
  t.equal(await card(page, 'No key here').getByRole('button', { name: 'Silence', exact: true }).isVisible(), false, 'no silence button on an alert without a key')

  await door.getByRole('button', { name: 'Silence', exact: true }).click()
  const form = door.locator('.silence-form')
  await form.waitFor({ state: 'visible' })
  t.same(await form.locator('select option').allTextContents(), ['1 hour', '4 hours', '1 day'])
  // No comment: the page says so and sends nothing.
  await form.getByRole('button', { name: 'Silence notifications' }).click()
  await page.locator('#board-error', { hasText: 'Say why the alert is silenced.' }).waitFor()
  t.same(await silences(), [])

  await form.locator('select').selectOption('4h')
  await form.getByRole('textbox', { name: 'Why the alert is silenced' }).fill('door sensor swap')
  await form.getByRole('button', { name: 'Silence notifications' }).click()
  const item = page.locator('#silence-list li.silence-item')
  await item.waitFor()
  t.match(await item.textContent(), /key door-1 until .+ “door sensor swap” \(maria\)/)
  t.notOk(await form.isVisible(), 'the form closes')
  const [made] = await silences()
  t.match(made, { match: { key: 'door-1' }, comment: 'door sensor swap', by: 'maria', active: true })
  t.equal(Date.parse(made?.endsAt) - Date.parse(made?.startsAt), 4 * 3_600_000, '4 hours')
  t.equal(await item.getAttribute('data-id'), made?.id)

  await item.getByRole('button', { name: 'End' }).click()
  await page.locator('#silences-empty').waitFor({ state: 'visible' })
  await waitFor(async () => (await silences()).length === 0)
  t.equal(await item.count(), 0, 'the list is empty')

  // Cancel closes the form without a silence.
  await door.getByRole('button', { name: 'Silence', exact: true }).click()
  await form.getByRole('button', { name: 'Cancel' }).click()
  t.notOk(await form.isVisible())
  t.same(await silences(), [])
  t.same(problems, [])
})

test('without operate, no silence button and no silences panel', async (t) => {
  const lobby: FileEntry = { name: 'lobby', scopes: ['subscribe'], token: token() }
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [lobby, ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { key: 'door-1' }, duration: '1h', comment: 'kept from the wall' } })
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  const { page, problems } = await open(t, url, lobby.token)
  const door = card(page, 'Door forced')
  await door.waitFor()
  await page.locator('#signed-in', { hasText: 'Signed in as lobby' }).waitFor()
  t.equal(await door.getByRole('button', { name: 'Silence', exact: true }).isVisible(), false)
  t.notOk(await page.locator('#silences-panel').isVisible(), 'the panel stays hidden')
  t.equal(await page.locator('#silence-list li').count(), 0, 'nothing of the silences is read')
  t.same(problems, [])
})

const badge = (page: Page, message: string) => card(page, message).locator('.silenced-badge')

test('cards a silence holds are marked: on the board, when made from a card, live, until ended', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  // Held on loading: a silence on a location, made before the page opens.
  const made = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { location: 'Vault' }, duration: '1h', comment: 'vault works' } })
  t.equal(made.statusCode, 201, made.body)
  // Comma lists, as the server reads them: any of the tags, while open or acknowledged.
  const lab = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { tag: 'lab, noisy', state: 'open,acknowledged' }, duration: '1h', comment: 'lab noise' } })
  t.equal(lab.statusCode, 201, lab.body)
  await raise(fastify, ops.token, { message: 'Vault open', location: 'Vault' })
  // A resolved alert and an open one share the key door-1.
  await raise(fastify, ops.token, { message: 'Door forced earlier', key: 'door-1' })
  await fastify.inject({ method: 'POST', url: '/alerts/resolve', headers: bearer(ops.token), payload: { key: 'door-1' } })
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  await raise(fastify, ops.token, { message: 'Window broken', key: 'window-1' })
  const { page, problems } = await open(t, url, ops.token)

  await badge(page, 'Vault open').waitFor()
  t.equal(await badge(page, 'Vault open').textContent(), 'Silenced: notifications held, “vault works”, until ' +
    await page.evaluate((end) => new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' }).format(new Date(end)), made.json().endsAt as string))
  t.match(await badge(page, 'Vault open').getAttribute('title'), /^Notifications silenced: “vault works”, until /)
  t.equal(await badge(page, 'Vault open').locator('.visually-hidden').isVisible(), true, 'the words are in the page for screen readers')
  t.equal(await card(page, 'Vault open').getAttribute('data-silence'), made.json().id)
  const door = card(page, 'Door forced')
  await door.waitFor()
  t.equal(await badge(page, 'Door forced').count(), 0, 'not held yet')
  t.equal(await badge(page, 'Window broken').count(), 0)

  await door.getByRole('button', { name: 'Silence', exact: true }).click()
  await door.getByRole('textbox', { name: 'Why the alert is silenced' }).fill('door sensor swap')
  await door.getByRole('button', { name: 'Silence notifications' }).click()
  await badge(page, 'Door forced').waitFor()
  await page.locator('#resolved-group summary').click()
  await badge(page, 'Door forced earlier').waitFor()
  t.match(await badge(page, 'Door forced').getAttribute('title'), /“door sensor swap”/)
  t.equal(await badge(page, 'Window broken').count(), 0, 'another key is not held')

  // The open door-1 alert is resolved, and door-1 raised again: a new alert, marked on arrival.
  await fastify.inject({ method: 'POST', url: '/alerts/resolve', headers: bearer(ops.token), payload: { key: 'door-1' } })
  await raise(fastify, ops.token, { message: 'Door forced again', key: 'door-1' })
  await badge(page, 'Door forced again').waitFor()
  // A live alert the silence does not take arrives unmarked; one in the vault arrives marked.
  await raise(fastify, ops.token, { message: 'Gate stuck', key: 'gate-1' })
  await raise(fastify, ops.token, { message: 'Vault humid', location: 'Vault', severity: 'info' })
  await badge(page, 'Vault humid').waitFor()
  await card(page, 'Gate stuck').waitFor()
  t.equal(await badge(page, 'Gate stuck').count(), 0)
  // A live change decides too: resolved, the alert is no longer taken by a silence of open and acknowledged ones.
  await raise(fastify, ops.token, { message: 'Fume hood', key: 'hood-1', tags: ['noisy'] })
  await badge(page, 'Fume hood').waitFor()
  t.match(await badge(page, 'Fume hood').getAttribute('title'), /“lab noise”/)
  await fastify.inject({ method: 'POST', url: '/alerts/resolve', headers: bearer(ops.token), payload: { key: 'hood-1' } })
  await card(page, 'Fume hood').and(page.locator('.state-resolved')).waitFor()
  t.equal(await badge(page, 'Fume hood').count(), 0, 'resolved: no longer held')

  // Ending the door-1 silence removes its marks at once; the vault's stays.
  await page.locator('#silence-list li.silence-item', { hasText: 'door sensor swap' }).getByRole('button', { name: 'End' }).click()
  await waitFor(async () => await page.locator('.alert-item .silenced-badge').count() === 2)
  t.equal(await badge(page, 'Door forced again').count(), 0)
  t.equal(await badge(page, 'Door forced earlier').count(), 0)
  t.equal(await badge(page, 'Vault open').count(), 1)
  t.equal(await badge(page, 'Vault humid').count(), 1)
  t.same(problems, [])
})

test('a silence that ends by time loses its marks at its end, and leaves the list', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const made = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { location: 'Dock', min_severity: 'warning' }, duration: '1h', comment: 'an hour' } })
  t.equal(made.statusCode, 201, made.body)
  await raise(fastify, ops.token, { message: 'Door forced', location: 'Dock' })
  await raise(fastify, ops.token, { message: 'Door note', location: 'Dock', severity: 'info' })
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  await page.clock.install()
  await page.goto(`${url}/?token=${encodeURIComponent(ops.token)}`)
  await badge(page, 'Door forced').waitFor()
  await page.locator('#silence-list li.silence-item').waitFor()
  await card(page, 'Door note').waitFor()
  t.equal(await badge(page, 'Door note').count(), 0, 'below the least severity')
  await page.clock.fastForward(3_600_000 + 1000)
  await waitFor(async () => await badge(page, 'Door forced').count() === 0)
  await page.locator('#silences-empty').waitFor({ state: 'visible' })
  t.equal(await page.locator('#silence-list li').count(), 0, 'the ended silence leaves the list')
})

test('a subscribe-only token sees the marks the board gives', async (t) => {
  const lobby: FileEntry = { name: 'lobby', scopes: ['subscribe'], token: token() }
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [lobby, ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const made = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { key: 'door-1' }, duration: '1h', comment: 'kept from the wall' } })
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  await raise(fastify, ops.token, { message: 'Window broken', key: 'window-1' })
  const { page, problems } = await open(t, url, lobby.token)
  await badge(page, 'Door forced').waitFor()
  const id = made.json().id as string
  t.equal(await badge(page, 'Door forced').getAttribute('title'), `Notifications silenced: silence ${id}`, 'only the id is known')
  t.equal(await badge(page, 'Window broken').count(), 0)
  t.same(problems, [])
})

test('a subscribe-only token: live alerts get their marks from the board, and silences made or ended elsewhere show at the next refresh', async (t) => {
  const lobby: FileEntry = { name: 'lobby', scopes: ['subscribe'], token: token() }
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [lobby, ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const reads: string[] = []
  const { page, problems } = await open(t, url, lobby.token, async (page) => {
    page.on('request', (request) => { if (new URL(request.url()).pathname === '/silences') reads.push(request.url()) })
    await page.clock.install()
  })

  const door = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { key: 'door-1' }, duration: '1h', comment: 'door sensor swap' } })
  t.equal(door.statusCode, 201, door.body)
  await raise(fastify, ops.token, { message: 'Window broken', key: 'window-1' })
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  await badge(page, 'Door forced').waitFor()
  t.equal(await card(page, 'Door forced').getAttribute('data-silence'), door.json().id, 'a live alert is marked with the silence that holds it')
  await card(page, 'Window broken').waitFor()
  t.equal(await badge(page, 'Window broken').count(), 0, 'one the silence does not hold is not')

  // Made and ended by an operator elsewhere: shown at the next refresh.
  const window = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { key: 'window-1' }, duration: '1h', comment: 'glazier' } })
  t.equal(window.statusCode, 201, window.body)
  t.equal((await fastify.inject({ method: 'DELETE', url: `/silences/${door.json().id as string}`, headers: bearer(ops.token) })).statusCode, 200)
  await page.clock.fastForward(60_000)
  await badge(page, 'Window broken').waitFor()
  await waitFor(async () => await badge(page, 'Door forced').count() === 0)
  t.equal(await card(page, 'Window broken').getAttribute('data-silence'), window.json().id)
  t.same(reads, [], 'the silences themselves are never asked for')
  t.same(problems, [])
})

test('an operator\'s list and marks take in silences made and ended elsewhere at the next refresh', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  await raise(fastify, ops.token, { message: 'Door forced', key: 'door-1' })
  const { page, problems } = await open(t, url, ops.token, async (page) => { await page.clock.install() })
  await card(page, 'Door forced').waitFor()
  await page.locator('#silences-empty').waitFor({ state: 'visible' })
  const made = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(ops.token), payload: { match: { key: 'door-1' }, duration: '4h', comment: 'made by the API' } })
  t.equal(made.statusCode, 201, made.body)
  await page.clock.fastForward(60_000)
  await page.locator('#silence-list li.silence-item', { hasText: 'made by the API' }).waitFor()
  await badge(page, 'Door forced').waitFor()
  t.equal((await fastify.inject({ method: 'DELETE', url: `/silences/${made.json().id as string}`, headers: bearer(ops.token) })).statusCode, 200)
  await page.clock.fastForward(60_000)
  await page.locator('#silences-empty').waitFor({ state: 'visible' })
  t.equal(await badge(page, 'Door forced').count(), 0, 'ended elsewhere: no longer marked')
  t.same(problems, [])
})

test('silencing from the card of an alert whose key holds a comma takes that key whole', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  await raise(fastify, ops.token, { message: 'Disk full on db1', key: 'disk,db1' })
  await raise(fastify, ops.token, { message: 'Disk full', key: 'disk' })
  const { page, problems } = await open(t, url, ops.token)
  const whole = card(page, 'Disk full on db1')
  await whole.getByRole('button', { name: 'Silence', exact: true }).click()
  await whole.getByRole('textbox', { name: 'Why the alert is silenced' }).fill('disk swap')
  await whole.getByRole('button', { name: 'Silence notifications' }).click()
  await badge(page, 'Disk full on db1').waitFor()
  t.equal(await badge(page, 'Disk full').count(), 0, 'the key "disk" is another key')
  t.equal(await page.locator('#silence-list li .silence-match').textContent(), 'key disk,db1')
  const board = (await fastify.inject({ url: '/alerts', headers: bearer(ops.token) })).json()
  const held = board.alerts.find((a: { key: string }) => a.key === 'disk,db1')
  t.same(board.silenced, { [held.id]: (await fastify.inject({ url: '/silences', headers: bearer(ops.token) })).json().silences[0].id }, 'the server holds that alert alone')
  t.same(problems, [])
})
