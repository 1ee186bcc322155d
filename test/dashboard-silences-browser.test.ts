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

async function open (t: Teardown, url: string, value: string): Promise<{ page: Page, problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()) })
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
