import t from 'tap'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { publishAlert, publishChat } from './helpers/http'
import { waitFor } from './helpers/wait'

// A Chromium start and EventSource's 3 s reconnection delay: more than the per-file default on a loaded machine.
t.setTimeout(300_000)
const test = browserTests(t)

interface Seen { type: string, lastEventId: string, id: string }
declare global { interface Window { seen: Seen[], opens: number } }

test('EventSource in Chromium resumes with Last-Event-ID after the connection drops: nothing missed, nothing doubled', async (t) => {
  const { fastify, url } = await listen(t)
  // The connections that carry the page's stream (not the test's own keep-alive POSTs).
  const sockets = new Set<Socket>()
  fastify.server.on('request', (request: IncomingMessage) => {
    if (request.url?.startsWith('/events') !== true) return
    const socket = request.socket
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const before = await publishAlert(url, 'before')
  const browser = await launchBrowser(t)
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  await page.goto(`${url}/health`)
  // ?since=all on the URL: without Last-Event-ID the reconnection would replay everything again.
  await page.evaluate(() => {
    window.seen = []
    window.opens = 0
    const source = new EventSource('/events?since=all')
    source.onopen = () => { window.opens++ }
    for (const type of ['alert', 'chat', 'alert_update', 'gap']) {
      source.addEventListener(type, (e) => {
        const event = e as MessageEvent<string>
        window.seen.push({ type, lastEventId: event.lastEventId, id: (JSON.parse(event.data) as { id: string }).id })
      })
    }
  })
  const live = [await publishAlert(url, 'live'), await publishChat(url, 'live chat')]
  await page.waitForFunction(() => window.seen.length === 3)

  // The network drops: the stream's connection is cut.
  for (const socket of sockets) socket.destroy()
  await waitFor(() => fastify.fanout.size === 0)
  const missed = [await publishAlert(url, 'while away'), await publishChat(url, 'while away too')]
  await page.waitForFunction(() => window.opens === 2 && window.seen.length === 5, undefined, { timeout: 20_000 })
  const seen = await page.evaluate(() => window.seen)
  t.same(seen.map((s) => s.id), [before, ...live, ...missed].map((e) => e.id), 'every event once, in order')
  t.same(seen.map((s) => s.lastEventId), seen.map((s) => s.id), 'each event carried its id')

  // And it goes on live after the reconnection.
  const after = await publishAlert(url, 'after')
  await page.waitForFunction(() => window.seen.length === 6)
  t.equal((await page.evaluate(() => window.seen[5]))?.id, after.id)
})
