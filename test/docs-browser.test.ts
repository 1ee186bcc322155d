import t from 'tap'
import { launchBrowser, listen } from './helper'

t.test('Swagger UI "Try it out" on POST /alerts works in a real browser under the CSP', async (t) => {
  const { fastify, url } = await listen(t)
  const browser = await launchBrowser(t)
  const page = await browser.newPage()
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
