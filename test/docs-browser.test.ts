import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'

// A Chromium start and Swagger UI twice: under a loaded machine more than the tap config's per-file default.
t.setTimeout(300_000)
const test = browserTests(t)

// One Chromium for the file (launching one costs seconds), started by the first
// test that needs it (none when the browser tests are skipped); each test gets its own context.
let browser: Browser | undefined

async function newPage (tt: Teardown): Promise<Page> {
  browser ??= await launchBrowser(t)
  const context = await browser.newContext()
  tt.teardown(async () => await context.close())
  return await context.newPage()
}

test('Swagger UI "Try it out" on POST /alerts works in a real browser under the CSP', async (t) => {
  const { fastify, url } = await listen(t)
  const page = await newPage(t)
  const problems: string[] = []
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()) })
  page.on('pageerror', (err) => problems.push(err.message))

  await page.goto(`${url}/docs`)
  const op = page.locator('#operations-alerts-post_alerts')
  await op.locator('.opblock-summary').click()
  await op.getByRole('button', { name: 'Try it out' }).click()
  await op.locator('textarea.body-param__text').fill(JSON.stringify({ message: 'From the docs page', location: 'Gate 7' }))
  await op.getByRole('button', { name: 'Execute' }).click()
  await op.locator('.responses-table.live-responses-table .response-col_status').first().waitFor()
  const status = await op.locator('.live-responses-table .response .response-col_status').first().innerText()
  t.equal(status.trim(), '200')

  const history = (await fastify.inject('/alerts/history')).json()
  t.match(history.alerts, [{ message: 'From the docs page', location: 'Gate 7' }])
  t.same(problems.filter((p) => /Content Security Policy|Refused/i.test(p)), [], 'no CSP violation')
})

test('Swagger UI raises three different alerts in a row: the Idempotency-Key field starts empty and stays so', async (t) => {
  const { fastify, url } = await listen(t)
  const page = await newPage(t)
  await page.goto(`${url}/docs`)
  const op = page.locator('#operations-alerts-post_alerts')
  await op.locator('.opblock-summary').click()
  await op.getByRole('button', { name: 'Try it out' }).click()
  const keyField = op.locator('tr[data-param-name="idempotency-key"] input')
  t.equal(await keyField.inputValue(), '', 'nothing pre-filled')

  const statuses: string[] = []
  for (const location of ['Gate 1', 'Gate 2', 'Gate 3']) {
    await op.locator('textarea.body-param__text').fill(JSON.stringify({ message: `Raised from the docs at ${location}`, location }))
    await op.getByRole('button', { name: 'Execute' }).click()
    // Each answer replaces the last: wait for the one naming this alert.
    await op.locator('.live-responses-table .response-col_description').filter({ hasText: `Raised from the docs at ${location}` }).first().waitFor()
    statuses.push((await op.locator('.live-responses-table .response .response-col_status').first().innerText()).split('\n')[0]?.trim() ?? '')
    await op.getByRole('button', { name: 'Clear' }).click()
  }
  t.same(statuses, ['200', '200', '200'])
  const history = (await fastify.inject('/alerts/history')).json() as { alerts: Array<{ location: string }> }
  t.same(history.alerts.map((a) => a.location), ['Gate 1', 'Gate 2', 'Gate 3'])
})

test('Swagger UI "Authorize" sends the bearer token when API_TOKEN is set', async (t) => {
  const { fastify, url } = await listen(t, { API_TOKEN: 'docs-token-123' })
  const page = await newPage(t)
  await page.goto(`${url}/docs`)

  const op = page.locator('#operations-alerts-post_alerts')
  const execute = async (): Promise<string> => {
    await op.locator('textarea.body-param__text').fill(JSON.stringify({ message: 'Authorized', location: 'Gate 9' }))
    await op.getByRole('button', { name: 'Execute' }).click()
    const status = op.locator('.live-responses-table .response .response-col_status').first()
    await status.waitFor()
    // The cell reads e.g. "401\nUndocumented" for a status without a schema.
    return (await status.innerText()).split('\n')[0]?.trim() ?? ''
  }
  await op.locator('.opblock-summary').click()
  await op.getByRole('button', { name: 'Try it out' }).click()
  t.equal(await execute(), '401', 'refused before authorizing')

  await page.getByRole('button', { name: 'Authorize' }).first().click()
  const dialog = page.locator('.dialog-ux')
  await dialog.locator('input[type="text"], input[type="password"]').first().fill('docs-token-123')
  await dialog.locator('button.authorize').click()
  await dialog.locator('button.btn-done').click()
  await op.getByRole('button', { name: 'Clear' }).click()
  t.equal(await execute(), '200')
  const history = (await fastify.inject({ url: '/alerts/history', headers: { authorization: 'Bearer docs-token-123' } })).json()
  t.match(history.alerts, [{ message: 'Authorized', location: 'Gate 9' }])
})
