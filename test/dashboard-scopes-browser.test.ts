import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { bearer, tokensFile, type FileEntry } from './helpers/credentials'

t.setTimeout(600_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

const token = (): string => randomBytes(24).toString('base64url')

/** Opens the dashboard the way a wall display is set up: the token in the address once. */
async function open (t: Teardown, url: string, value: string): Promise<{ page: Page, problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  await page.goto(`${url}/?token=${encodeURIComponent(value)}`)
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: 10_000 })
  return { page, problems }
}

const card = (page: Page, message: string) =>
  page.locator('li.alert-item').filter({ has: page.locator('.message', { hasText: new RegExp(`^${message}$`) }) })

async function raise (fastify: FastifyInstance, value: string, message: string): Promise<void> {
  const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: bearer(value), payload: { message, location: 'Lobby', severity: 'critical' } })
  if (res.statusCode !== 200) throw new Error(res.body)
}

test('a read-only display: signed in as lobby (subscribe), no alert form, no chat box, no acknowledge; closed when revoked', async (t) => {
  const lobby: FileEntry = { name: 'lobby', scopes: ['subscribe'], token: token() }
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [lobby, ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const { page, problems } = await open(t, url, lobby.token)

  t.equal(await page.locator('#signed-in').textContent(), 'Signed in as lobby (subscribe)')
  t.notOk(new URL(page.url()).searchParams.has('token'), 'the token left the address bar')
  t.notOk(await page.locator('#alert-form').isVisible(), 'no alert form')
  t.notOk(await page.locator('#chat-form').isVisible(), 'no chat box')
  await raise(fastify, ops.token, 'Seen on the wall')
  const shown = card(page, 'Seen on the wall')
  await shown.waitFor()
  t.equal(await shown.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'no acknowledge button without operate')
  t.notOk(await shown.locator('.action-resolve').isVisible(), 'no resolve button either')

  // Revoked: the server closes the socket and the page asks for a token, saying why.
  tokens.write([ops])
  await page.locator('#token-panel').waitFor({ state: 'visible' })
  t.match(await page.locator('#token-reason').textContent(), /token revoked/)
  t.same(problems, [])
})

test('an operator: signed in as maria, chats and acknowledges as maria without being asked for a name', async (t) => {
  const ops: FileEntry = { name: 'maria', scopes: ['subscribe', 'publish', 'operate'], token: token() }
  const tokens = tokensFile(t, [ops])
  const { fastify, url } = await listen(t, { TOKENS_FILE: tokens.path })
  const { page, problems } = await open(t, url, ops.token)

  t.equal(await page.locator('#signed-in').textContent(), 'Signed in as maria (subscribe, publish, operate)')
  t.ok(await page.locator('#alert-form').isVisible(), 'the alert form is there')
  t.notOk(await page.locator('#chat-sender').isVisible(), 'no name box: the server names the sender')
  await page.locator('#chat-message').fill('On my way')
  await page.locator('#chat-form button[type="submit"]').click()
  await page.locator('#chat-list li', { hasText: 'On my way' }).locator('.sender', { hasText: 'maria' }).waitFor()

  await raise(fastify, ops.token, 'Door forced')
  await card(page, 'Door forced').getByRole('button', { name: 'Acknowledge' }).click()
  await card(page, 'Door forced').locator('.acknowledged-by', { hasText: 'Acknowledged by maria' }).waitFor()
  t.notOk(await page.locator('#identity-form').isVisible(), 'no name was asked for')
  const stored = (await fastify.inject({ url: '/alerts?state=acknowledged', headers: bearer(ops.token) })).json().alerts
  t.match(stored, [{ message: 'Door forced', acknowledgedBy: 'maria' }])
  t.same(problems, [])
})

test('a server without credentials: nobody is signed in and everything is offered, as before', async (t) => {
  const { url } = await listen(t)
  const { page, problems } = await open(t, url, 'ignored')
  t.notOk(await page.locator('#signed-in').isVisible())
  t.ok(await page.locator('#alert-form').isVisible())
  t.ok(await page.locator('#chat-sender').isVisible())
  t.same(problems, [])
})
