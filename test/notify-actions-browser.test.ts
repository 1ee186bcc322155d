/**
 * The confirmation page of an Acknowledge link, in a real browser, behind a
 * reverse proxy that serves the server under a path (PUBLIC_URL
 * http://…/alertsrv): pressing the button posts to the address the link
 * named, and the alert is acknowledged as the receiver.
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { postAlert } from './helpers/http'
import { httpReceiver } from './helpers/receivers'
import { waitFor } from './helpers/wait'

t.setTimeout(300_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

test('behind a proxy under /alertsrv, the page\'s button acknowledges the alert', async (t) => {
  // The proxy listens first: its address is PUBLIC_URL. It passes /alertsrv/… on without the prefix.
  let target = 0
  const proxy = createServer((req, res) => {
    const url = req.url ?? ''
    if (!url.startsWith('/alertsrv/')) {
      res.writeHead(404).end()
      return
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: url.slice('/alertsrv'.length), headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise((resolve) => proxy.close(resolve)))
  const publicUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/alertsrv`

  const hook = await httpReceiver(t)
  const dir = mkdtempSync(join(tmpdir(), 'alert-actions-browser-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'notify.yml')
  writeFileSync(file, `receivers: { ticketing: { webhook: { url: "${hook.url}/hook" } } }\nroutes: [{ to: [ticketing] }]\n`)
  const { fastify, url } = await listen(t, { NOTIFY_FILE: file, PUBLIC_URL: publicUrl })
  target = Number(new URL(url).port)

  const alert = (await postAlert(fastify, { message: 'disk full', location: 'db1', severity: 'critical' })).json()
  await waitFor(() => hook.requests.length >= 1)
  const link = (JSON.parse(hook.requests[0]?.body ?? '{}') as { actions: { acknowledge: string } }).actions.acknowledge
  t.ok(link.startsWith(`${publicUrl}/alerts/${alert.id as string}/actions/ack?`), 'the link is under PUBLIC_URL')

  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  await page.goto(link)
  t.equal(await page.title(), 'Acknowledge this alert?')
  const posted = page.waitForRequest((r) => r.method() === 'POST')
  await page.getByRole('button', { name: 'Acknowledge' }).click()
  t.equal((await posted).url(), link, 'the form posts to the address of the link, prefix and signature included')
  await page.getByText('acknowledged').first().waitFor()
  const now = (await fastify.inject(`/alerts/${alert.id as string}/timeline`)).json()
  t.equal(now.alert.state, 'acknowledged')
  t.equal(now.alert.acknowledgedBy, 'notify:ticketing')
})
