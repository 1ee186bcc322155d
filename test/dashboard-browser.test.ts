import t from 'tap'
import { stamp } from '../plugins/core/publisher'
import { randomUUID } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Browser, BrowserContextOptions, Page, WebSocketRoute } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { type Teardown, build, listen } from './helpers/app'
import { browserTests, chromiumPath, launchBrowser, underCI } from './helpers/browser'
import { waitFor } from './helpers/wait'
import { publishAlert, publishChat } from './helpers/http'
import { Client } from './helpers/ws-client'

// About 40 s alone, but several minutes on a loaded machine (seen: 280 s at a load of
// 22 on 2 cores): far more than the tap config's per-file default.
t.setTimeout(600_000)
const test = browserTests(t)

// One Chromium for the file; every test gets its own context (storage, viewport).
let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

interface Dashboard {
  page: Page
  /** Console errors, page errors and CSP violations. */
  problems: string[]
  /** Every HTTP request and WebSocket the page made. */
  requests: string[]
  sockets: string[]
  /** JSON frames the page received over its WebSockets. */
  received: Array<Record<string, unknown>>
  dialogs: string[]
}

// Set on the page by instrument() below (test/tsconfig.browser.json gives these files the DOM library).
interface WsControl { blocked: boolean, sockets: WebSocket[] }
declare global {
  interface Window {
    __ws: WsControl
    __cspViolations: string[]
  }
}

// Runs in the page before its own script: records CSP violations and wraps the
// WebSocket constructor so a test can cut the page's socket and hold off its
// reconnects (window.__ws.blocked), to lose events on purpose.
function instrument (): void {
  const violations: string[] = []
  window.__cspViolations = violations
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`))
  const Native = window.WebSocket
  const control: WsControl = { blocked: false, sockets: [] }
  window.__ws = control
  window.WebSocket = class extends Native {
    constructor (url: string | URL, protocols?: string | string[]) {
      // Blocked: the same server, a path with no WebSocket route, so the upgrade fails at once.
      const target = new URL(url)
      if (control.blocked) target.pathname = '/blocked-by-test'
      super(target, protocols)
      control.sockets.push(this)
    }
  }
}

async function open (t: Teardown, url: string, options: BrowserContextOptions = {}, before?: (page: Page) => Promise<void>): Promise<Dashboard> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const d: Dashboard = { page, problems: [], requests: [], sockets: [], received: [], dialogs: [] }
  page.on('console', (msg) => { if (msg.type() === 'error') d.problems.push(msg.text()) })
  page.on('pageerror', (err) => d.problems.push(err.message))
  page.on('request', (req) => d.requests.push(req.url()))
  page.on('websocket', (ws) => {
    d.sockets.push(ws.url())
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string') d.received.push(JSON.parse(payload))
    })
  })
  page.on('dialog', (dialog) => {
    d.dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  await page.addInitScript(instrument)
  await before?.(page)
  await page.goto(url)
  await connected(page)
  return d
}

const connected = async (page: Page, timeout = 5000): Promise<void> =>
  await page.locator('#status[data-state="connected"]').waitFor({ timeout })

/** Alerts on the page whose message is exactly `text`. */
const alertCount = async (page: Page, text: string): Promise<number> =>
  await page.locator('#alert-list .message').evaluateAll((nodes, text) => nodes.filter((n) => n.textContent === text).length, text)

const alertMessages = async (page: Page): Promise<string[]> =>
  await page.locator('#alert-list .message').allTextContents()

/** Waits until exactly one alert shows `text`. */
async function shownOnce (page: Page, text: string, timeout = 5000): Promise<void> {
  await page.waitForFunction((text) => [...document.querySelectorAll('#alert-list .message')]
    .filter((n) => n.textContent === text).length === 1, text, { timeout })
}

/** Cuts the page's socket and keeps it from reconnecting until `release`. */
async function cutSocket (page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__ws.blocked = true
    for (const socket of window.__ws.sockets) socket.close()
  })
}
async function release (page: Page): Promise<void> {
  await page.evaluate(() => { window.__ws.blocked = false })
}

/**
 * Stops a server the way a killed process would: no listener and no connection
 * left. close() alone can wait for a keep-alive connection the browser opened
 * while the server was shutting down.
 */
async function kill (fastify: FastifyInstance): Promise<void> {
  const closing = fastify.close()
  await waitFor(() => !fastify.server.listening)
  fastify.server.closeAllConnections()
  await closing
}

test('the page loads without errors or CSP violations and asks nothing of any other origin', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  await publishAlert(fastify, 'Before the page opened')
  const d = await open(t, url)
  const { page } = d
  await shownOnce(page, 'Before the page opened')
  // Exercise the page a little: a live alert, a chat typed into the page.
  await publishAlert(fastify, 'While the page is open')
  await shownOnce(page, 'While the page is open')
  await page.locator('#chat-sender').fill('Jose')
  await page.locator('#chat-message').fill('Checking the gate')
  await page.locator('#chat-submit').click()
  await page.locator('#chat-list .message', { hasText: 'Checking the gate' }).waitFor()

  t.same(d.problems, [], 'no console error, page error or CSP report')
  t.same(await page.evaluate(() => window.__cspViolations), [], 'no CSP violation')
  t.ok(d.requests.length >= 5, 'the page, its files and both histories were requested')
  t.same(d.requests.filter((u) => !u.startsWith(`${url}/`)), [], 'every request went to the server itself')
  t.ok(d.requests.includes(`${url}/alerts/history`) && d.requests.includes(`${url}/message`), 'both histories loaded')
  t.ok(d.sockets.length >= 1, 'a WebSocket was opened')
  t.same(d.sockets.filter((u) => !u.startsWith(`${wsUrl}/ws`)), [], 'to the server\'s own /ws')
  t.match(await page.locator('#status').innerText(), /connected/i, 'the connection state is shown')
})

test('history fills both lists on load, in order, with times in the viewer\'s time zone', async (t) => {
  const { fastify, url } = await listen(t)
  const first = await publishAlert(fastify, 'First alert', 'North Gate')
  await publishAlert(fastify, 'Second alert', 'South Gate')
  await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 'Jose', message: 'First chat' } })
  await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 'Ana', message: 'Second chat' } })
  const timeZone = 'Asia/Kolkata'
  const { page } = await open(t, url, { timezoneId: timeZone, locale: 'en-GB' })
  await page.locator('#alert-list .message', { hasText: 'First alert' }).waitFor()
  await page.locator('#chat-list .message', { hasText: 'Second chat' }).waitFor()

  t.same(await alertMessages(page), ['Second alert', 'First alert'], 'alerts: newest on top')
  t.same(await page.locator('#chat-list .message').allTextContents(), ['First chat', 'Second chat'], 'chat: oldest on top, like any chat')
  t.same(await page.locator('#alert-list .location').allTextContents(), ['South Gate', 'North Gate'])
  t.same(await page.locator('#chat-list .sender').allTextContents(), ['Jose', 'Ana'])

  const time = page.locator('#alert-list li').last().locator('time')
  t.equal(await time.getAttribute('datetime'), first.timestamp, 'the exact instant is kept in datetime')
  const local = new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'full', timeStyle: 'long' })
    .format(new Date(String(first.timestamp)))
  t.match(await time.innerText(), /^(just now|\d+ s ago)$/, 'how long ago, in words')
  t.equal(await time.getAttribute('title'), local, `the full date and time on hover, in local time (${timeZone})`)
  t.match(await page.locator('#chart-summary').innerText(), /^2 alerts in the last hour/, 'the chart counts them')
  t.equal(await page.locator('#chart rect.chart-bar').count(), 1, 'one bar: both alerts fall in this minute')
})

test('an alert POSTed elsewhere appears within a second, newest on top', async (t) => {
  const { fastify, url } = await listen(t)
  const { page } = await open(t, url)
  await publishAlert(fastify, 'Older live alert')
  await page.locator('#alert-list .message', { hasText: 'Older live alert' }).waitFor({ timeout: 1000 })
  // Seen as the item is inserted: the highlight's animation may be over by
  // the time the test could look, on a busy machine.
  await page.evaluate(() => {
    const seen: string[] = []
    Object.assign(window, { highlighted: seen })
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node instanceof HTMLElement && node.classList.contains('fresh') && getComputedStyle(node).animationName !== 'none') seen.push(node.textContent ?? '')
        }
      }
    }).observe(document.querySelector('#alert-list') as Node, { childList: true, subtree: true })
  })
  await publishAlert(fastify, 'Unauthorized door access', 'South Gate')
  const item = page.locator('#alert-list li', { hasText: 'Unauthorized door access' })
  await item.waitFor({ timeout: 1000 })
  t.same(await alertMessages(page), ['Unauthorized door access', 'Older live alert'])
  t.equal(await item.locator('.location').textContent(), 'South Gate', 'the location as sent')
  const highlighted = await page.evaluate(() => (window as unknown as { highlighted: string[] }).highlighted)
  t.ok(highlighted.some((text) => text.includes('Unauthorized door access')), 'a new alert is highlighted by an animation')
  await page.waitForFunction(() => document.querySelector('#alert-list li.fresh') === null, undefined, { timeout: 5000 })
  t.pass('and the highlight goes away')
  t.match(await page.locator('#chart-summary').innerText(), /^2 alerts in the last hour/)
})

test('a chat typed into the page reaches another WebSocket client and shows in the page', async (t) => {
  const { url, wsUrl } = await listen(t)
  const { page } = await open(t, url)
  const other = await Client.open(`${wsUrl}/ws`, t)
  await page.locator('#chat-sender').fill('Maria')
  await page.locator('#chat-message').fill('On my way to the back door')
  await page.locator('#chat-message').press('Enter')
  const frame = await other.next()
  t.match(frame, { type: 'chat', sender: 'Maria', message: 'On my way to the back door' }, 'the other client got it')
  const item = page.locator('#chat-list li', { hasText: 'On my way to the back door' })
  await item.waitFor()
  t.equal(await item.locator('.sender').textContent(), 'Maria')
  t.equal(await item.getAttribute('data-id'), frame.id, 'the very event the server stamped')
  t.equal(await page.locator('#chat-message').inputValue(), '', 'the box is cleared for the next message')

  // And the other way round: the other client's chat shows in the page.
  other.send({ sender: 'Jose', message: 'Thanks, Maria' })
  await page.locator('#chat-list .message', { hasText: 'Thanks, Maria' }).waitFor()
  t.same(await page.locator('#chat-list .message').allTextContents(), ['On my way to the back door', 'Thanks, Maria'])
})

test('the sender name is remembered between visits', async (t) => {
  const { url } = await listen(t)
  const { page } = await open(t, url)
  await page.locator('#chat-sender').fill('Remembered Name')
  await page.locator('#chat-message').fill('hello')
  await page.locator('#chat-message').press('Enter')
  await page.locator('#chat-list .message', { hasText: 'hello' }).waitFor()
  await page.reload()
  await connected(page)
  t.equal(await page.locator('#chat-sender').inputValue(), 'Remembered Name')
})

test('what a client sent is shown as text, never run as HTML', async (t) => {
  const { fastify, url } = await listen(t)
  const { page, dialogs, requests } = await open(t, url)
  const xss = '<img src=x onerror=alert(1)>'
  await publishAlert(fastify, xss, '<b>Gate</b>')
  await publishChat(fastify, xss, '<script>alert(2)</script>')
  const item = page.locator('#alert-list li').first()
  await item.waitFor({ timeout: 1000 })
  await page.locator('#chat-list li').first().waitFor()

  t.equal(await item.locator('.message').innerText(), xss, 'the alert message shows literally')
  t.equal(await item.locator('.location').textContent(), '<b>Gate</b>', 'so does the location')
  t.equal(await page.locator('#chat-list .message').first().innerText(), xss, 'and the chat message')
  t.equal(await page.locator('#chat-list .sender').first().textContent(), '<script>alert(2)</script>', 'and the sender')
  t.equal(await page.locator('img').count(), 0, 'no <img> element was created')
  t.equal(await page.locator('#alert-list b, #chat-list script').count(), 0, 'no other element either')
  // A history load goes through the same code: reload and look again.
  await page.reload()
  await connected(page)
  await page.locator('#alert-list .message').first().waitFor()
  t.equal(await page.locator('#alert-list .message').first().innerText(), xss)
  t.equal(await page.locator('img').count(), 0)
  t.same(dialogs, [], 'no dialog fired')
  t.notOk(requests.some((u) => u.endsWith('/x')), 'the image was never requested')
})

test('a refused POST or chat frame says what to do, in words for people, next to its form', async (t) => {
  const { url } = await listen(t)
  const d = await open(t, url)
  const { page } = d
  const alertError = page.locator('#alert-error')
  const submitAlert = async (message: string, location: string): Promise<string> => {
    await page.locator('#alert-message').fill(message)
    await page.locator('#alert-location').fill(location)
    const answer = page.waitForResponse((res) => res.url() === `${url}/alerts` && res.request().method() === 'POST')
    await page.locator('#alert-submit').click()
    const body = await (await answer).json()
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#alert-error')?.hidden === false && !(document.querySelector<HTMLButtonElement>('#alert-submit')?.disabled ?? true))
    return body.message
  }
  t.equal(await submitAlert('   ', 'Gate 1'), 'body/message must not be blank', 'the API keeps its precise message')
  t.equal(await alertError.innerText(), 'Enter a message', 'the page says what to do')
  t.equal(await submitAlert('Door open', ' '), 'body/location must not be blank')
  t.equal(await alertError.innerText(), 'Enter a location')

  await page.locator('#chat-sender').fill('Jose')
  await page.locator('#chat-message').fill('  ')
  await page.locator('#chat-message').press('Enter')
  const chatError = page.locator('#chat-error')
  await chatError.waitFor()
  t.match(d.received.find((f) => f.type === 'error'), { code: 'invalid_message', message: /^frame\/message must not be blank/ }, 'the frame as the server sent it')
  t.equal(await chatError.innerText(), 'Enter a message')
  t.equal(await page.locator('#chat-message').inputValue(), '  ', 'the refused text is back in the box')
  await page.locator('#chat-sender').fill(' ')
  await page.locator('#chat-message').fill('Who am I')
  await page.locator('#chat-message').press('Enter')
  await page.waitForFunction(() => document.querySelector('#chat-error')?.textContent === 'Enter your name')
  t.pass('a blank name: "Enter your name"')
  await page.locator('#chat-sender').fill('Jose')

  // The next good message clears the error.
  await page.locator('#chat-message').fill('fixed')
  await page.locator('#chat-message').press('Enter')
  await page.locator('#chat-list .message', { hasText: 'fixed' }).waitFor()
  t.notOk(await chatError.isVisible(), 'the error is gone')
})

test('replay without a restart: events missed while the socket was down show exactly once', async (t) => {
  const { fastify, url } = await listen(t)
  const d = await open(t, url)
  const { page } = d
  const seen = await publishAlert(fastify, 'Seen live')
  await shownOnce(page, 'Seen live')

  await cutSocket(page)
  await page.locator('#status[data-state="reconnecting"]').waitFor()
  const missed = ['Missed one', 'Missed two', 'Missed three']
  for (const message of missed) await publishAlert(fastify, message)
  await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 'Jose', message: 'Missed chat' } })
  for (const message of missed) t.equal(await alertCount(page, message), 0, `${message}: not shown while disconnected`)

  const socketsBefore = d.sockets.length
  await release(page)
  await connected(page, 15000)
  for (const message of missed) await shownOnce(page, message)
  await page.locator('#chat-list .message', { hasText: 'Missed chat' }).waitFor()

  const reconnectUrl = new URL(d.sockets[d.sockets.length - 1] ?? '')
  t.ok(d.sockets.length > socketsBefore, 'a new socket was opened')
  t.equal(reconnectUrl.searchParams.get('since'), seen.id, 'it asked for what came after the last event seen')
  t.notOk(d.received.some((f) => f.type === 'gap'), 'the server knew that id: no gap')

  await publishAlert(fastify, 'Live again')
  await shownOnce(page, 'Live again')
  for (const message of [...missed, 'Seen live']) t.equal(await alertCount(page, message), 1, `${message}: once`)
  t.equal(await page.locator('#chat-list .message', { hasText: 'Missed chat' }).count(), 1)
  t.same(await alertMessages(page), ['Live again', 'Missed three', 'Missed two', 'Missed one', 'Seen live'], 'in order, newest on top')
})

test('a gap frame makes the page reload both histories over HTTP and merge them, nothing twice', async (t) => {
  const { fastify, url } = await listen(t)
  await publishAlert(fastify, 'Shown before the gap')
  await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 'Jose', message: 'Chat before the gap' } })
  // The socket passes through the test, which can then speak as the server.
  let route: WebSocketRoute | undefined
  const d = await open(t, url, {}, async (page) => {
    await page.routeWebSocket(/\/ws\b/, (ws) => {
      ws.connectToServer()
      route = ws
    })
  })
  const { page } = d
  await shownOnce(page, 'Shown before the gap')
  if (route === undefined) throw new Error('the page opened no socket')

  // Events the socket never carried: only a history reload can show them.
  const now = new Date().toISOString()
  await fastify.backend.store.append(stamp({ type: 'alert', message: 'Only in the history', location: 'Archive' }))
  await fastify.backend.store.append({ id: randomUUID(), timestamp: now, type: 'chat', sender: 'Ana', message: 'Chat only in the history' })
  const loads = (path: string): number => d.requests.filter((u) => u === `${url}${path}`).length
  t.equal(loads('/alerts/history'), 1)
  t.equal(loads('/message'), 1)
  route.send(JSON.stringify({ type: 'gap', message: 'the event asked for is not in the retained history' }))

  await shownOnce(page, 'Only in the history')
  await page.locator('#chat-list .message', { hasText: 'Chat only in the history' }).waitFor()
  t.equal(loads('/alerts/history'), 2, 'the alert history was loaded again')
  t.equal(loads('/message'), 2, 'and the chat history')
  t.equal(await alertCount(page, 'Shown before the gap'), 1, 'what was shown stays once')
  t.equal(await page.locator('#chat-list .message', { hasText: 'Chat before the gap' }).count(), 1)
  t.same(await alertMessages(page), ['Only in the history', 'Shown before the gap'])
  const notice = await page.locator('#notice').innerText()
  t.match(notice, /^Reconnected after a server restart or a long break: the alerts and the chat were reloaded/, 'the page says what happened')
  t.notMatch(notice, /GET |\/alerts|retained history/, 'in words for people, not the server\'s words for programs')
})

test('the page pings every 25 s and replaces a link that stops answering', async (t) => {
  const { url } = await listen(t)
  let answering = true
  let pings = 0
  let pongs = 0
  const d = await open(t, url, {}, async (page) => {
    await page.clock.install()
    await page.routeWebSocket(/\/ws\b/, (ws) => {
      const server = ws.connectToServer()
      server.onMessage((message) => {
        if (typeof message === 'string' && JSON.parse(message).type === 'pong') pongs++
        ws.send(message)
      })
      ws.onMessage((message) => {
        if (typeof message === 'string' && JSON.parse(message).type === 'ping') {
          pings++
          if (!answering) return // a dead link: the ping never reaches the server
        }
        server.send(message)
      })
    })
  })
  const { page } = d
  const opened = await page.evaluate(() => window.__ws.sockets.length)

  await page.clock.fastForward(25_000)
  await waitFor(() => pongs === 1)
  t.equal(pings, 1, 'one ping in 25 s')
  await page.evaluate(() => undefined) // the pong has reached the page
  await page.clock.fastForward(10_000)
  t.equal(await page.locator('#status').getAttribute('data-state'), 'connected', 'the pong came back: still connected')

  answering = false
  await page.clock.fastForward(25_000)
  await waitFor(() => pings === 2)
  await page.clock.fastForward(10_000)
  await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 5000 })
  t.match(await page.locator('#notice').innerText(), /stopped answering/)
  answering = true
  await page.clock.fastForward(1_000)
  await connected(page)
  t.equal(await page.evaluate(() => window.__ws.sockets.length), opened + 1, 'a new socket replaced the silent one')
})

test('server restart: the page shows it is reconnecting, comes back and shows exactly what the new server has', async (t) => {
  const first = await listen(t)
  const port = Number(new URL(first.url).port)
  const d = await open(t, first.url)
  const { page } = d
  const before = await publishAlert(first.fastify, 'Before the restart')
  await shownOnce(page, 'Before the restart')

  // Hold the page off until the new server has the alert, so that it arrives by replay, not live.
  await page.evaluate(() => { window.__ws.blocked = true })
  await kill(first.fastify)
  await page.locator('#status[data-state="reconnecting"]').waitFor()
  t.match(await page.locator('#status').innerText(), /reconnecting/i, 'the state is shown')

  const second = await build(t)
  await second.listen({ port, host: '127.0.0.1' })
  await publishAlert(second, 'While the page was away')
  await release(page)
  await connected(page, 15000)
  await shownOnce(page, 'While the page was away')
  t.equal(new URL(d.sockets[d.sockets.length - 1] ?? '').searchParams.get('since'), before.id, 'reconnected with ?since=<last id>')
  t.ok(d.received.some((f) => f.type === 'gap'), 'the new server did not know that id and said so')

  await publishAlert(second, 'Live after the restart')
  await shownOnce(page, 'Live after the restart')
  t.equal(await alertCount(page, 'While the page was away'), 1, 'still once after another live event')
  t.equal(await alertCount(page, 'Before the restart'), 0, 'the alert the new server does not have is gone, with its buttons')
  t.same(await alertMessages(page), ['Live after the restart', 'While the page was away'], 'exactly what the server has')
  t.equal(await page.locator('#count-warning').textContent(), '2', 'and counted as the server counts')
  // Before the second server closes (teardown), or the page would be reconnecting to it meanwhile.
  await page.context().close()
})

test('on a phone-sized screen the form and lists are visible and usable, with no sideways scrolling', async (t) => {
  const { fastify, url } = await listen(t)
  const { page } = await open(t, url, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
  for (const selector of ['#alert-message', '#alert-location', '#alert-submit', '#alert-list', '#chat-list', '#chat-message', '#chat-submit', '#status']) {
    await page.locator(selector).scrollIntoViewIfNeeded()
    const box = await page.locator(selector).boundingBox()
    t.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, `${selector} fits the width`)
  }
  await page.locator('#alert-message').fill('Long word ' + 'W'.repeat(400))
  await page.locator('#alert-location').fill('Dock')
  await page.locator('#alert-submit').tap()
  await page.locator('#alert-list li').first().waitFor()
  await publishAlert(fastify, 'A'.repeat(1000), 'L'.repeat(200))
  await page.locator('#alert-list li').nth(1).waitFor()
  await page.locator('#chat-sender').fill('S'.repeat(200))
  await page.locator('#chat-message').fill('C'.repeat(1000))
  await page.locator('#chat-submit').tap()
  await page.locator('#chat-list li').first().waitFor()
  t.ok(await page.locator('#alert-list').isVisible() && await page.locator('#chat-list').isVisible(), 'both lists visible')
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
  t.ok(scrollWidth <= innerWidth, `no horizontal overflow (${scrollWidth} <= ${innerWidth})`)
  const sideways = await page.evaluate(() => [...document.querySelectorAll('.event-list, .event, .event *')]
    .filter((n) => n.scrollWidth > n.clientWidth + 1).length)
  t.equal(sideways, 0, 'long words wrap: no list or item scrolls sideways either')
  const field = await page.locator('#alert-message').boundingBox()
  t.ok(field !== null && field.width >= 280, 'the message field takes the width of the screen')
})

test('the alert form works from the keyboard alone, with a visible focus', async (t) => {
  const { fastify, url } = await listen(t)
  const { page } = await open(t, url)
  const focused = async (): Promise<string> => await page.evaluate(() => document.activeElement?.id ?? '')
  for (let i = 0; i < 20 && await focused() !== 'alert-message'; i++) await page.keyboard.press('Tab')
  t.equal(await focused(), 'alert-message', 'Tab reaches the message field')
  const outline = await page.locator('#alert-message').evaluate((field) => {
    const style = getComputedStyle(field)
    return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) }
  })
  t.ok(outline.style !== 'none' && outline.width > 0, 'the focused field is outlined')
  await page.keyboard.type('Typed by keyboard')
  await page.keyboard.press('Tab')
  t.equal(await focused(), 'alert-location', 'Tab moves to the location')
  await page.keyboard.type('Gate K')
  await page.keyboard.press('Enter')
  await shownOnce(page, 'Typed by keyboard')
  t.match((await fastify.inject('/alerts/history')).json().alerts, [{ message: 'Typed by keyboard', location: 'Gate K' }], 'the server has it')

  // The button itself: Tab to it and press Enter.
  await page.keyboard.type('Second by keyboard')
  await page.keyboard.press('Tab')
  await page.keyboard.press('Tab')
  t.equal(await focused(), 'alert-submit', 'Tab reaches the button')
  await page.keyboard.press('Enter')
  await shownOnce(page, 'Second by keyboard')
})

test('a server with API_TOKEN: the page asks for the token, then uses it on the socket and on HTTP', async (t) => {
  const TOKEN = 'dash-token-' + randomUUID()
  const { fastify, url } = await listen(t, { API_TOKEN: TOKEN })
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  const sockets: string[] = []
  page.on('websocket', (ws) => sockets.push(ws.url()))

  await page.goto(url)
  await page.locator('#token-panel').waitFor({ state: 'visible' })
  t.match(await page.locator('#status').getAttribute('data-state'), /offline/, 'not connected without a token')

  // A wrong token is refused and the panel asks again.
  await page.locator('#token-input').fill('wrong')
  await page.locator('#token-form button[type="submit"]').click()
  await page.locator('#token-panel').waitFor({ state: 'visible' })
  t.notOk(await page.locator('#status[data-state="connected"]').isVisible(), 'still not connected')

  await page.locator('#token-input').fill(TOKEN)
  await page.locator('#token-form button[type="submit"]').click()
  await connected(page)
  t.ok(sockets.some((u) => u.includes(`token=${TOKEN}`)), 'the socket carries ?token=')
  t.equal(await page.evaluate(() => sessionStorage.getItem('alert-dashboard.token')), TOKEN, 'kept for the tab (sessionStorage)')

  // Live events arrive, and the page's own POST is authorised.
  const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: { authorization: `Bearer ${TOKEN}` }, payload: { message: 'Token alert', location: 'Vault' } })
  t.equal(res.statusCode, 200)
  await shownOnce(page, 'Token alert')
  await page.locator('#alert-message').fill('From the page')
  await page.locator('#alert-location').fill('Lobby')
  await page.locator('#alert-form button[type="submit"]').click()
  await shownOnce(page, 'From the page')
  const history = (await fastify.inject({ url: '/alerts/history', headers: { authorization: `Bearer ${TOKEN}` } })).json()
  t.match(history.alerts.map((a: { message: string }) => a.message), ['Token alert', 'From the page'])
})

test('with DOMAIN and an origin list set, the page served by the server itself still connects', async (t) => {
  // DOMAIN names the port, so the port is found before the app is built.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  const fastify = await build(t, { CORS_ORIGINS_ALLOWED: 'https://ops.example.com', DOMAIN: `127.0.0.1:${port}` })
  await fastify.listen({ port, host: '127.0.0.1' })
  const d = await open(t, `http://127.0.0.1:${port}/`)
  await publishAlert(fastify, 'Seen through DOMAIN')
  await shownOnce(d.page, 'Seen through DOMAIN')
  t.same(d.problems, [])
})

// A network namespace of its own needs root (CAP_SYS_ADMIN) and util-linux's unshare and nsenter.
const isolation = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && command -v nsenter'], { timeout: 5000 }).status === 0
  ? undefined
  : 'no network namespace can be made here (needs root, unshare, nsenter and ip)'

test('a browser that believes it is offline still reaches a server on its own network', async (t) => {
  if (isolation !== undefined) {
    t.fail(`${isolation}, and CI is set: this test must run in CI`)
    return
  }
  // The server in a namespace whose only interface is loopback: Chromium sees no
  // network (navigator.onLine false) although the server answers on 127.0.0.1.
  const fixture = join(__dirname, 'fixtures', 'netns-server.ts')
  const server = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, '--import', 'tsx', fixture], {
    cwd: join(__dirname, '..'),
    // Its coverage stays out of the report: it loads the sources through another loader (tsx).
    env: { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' },
    stdio: ['pipe', 'pipe', 'inherit']
  })
  t.teardown(() => { server.kill('SIGKILL') })
  const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next()
    if (line.done === true) throw new Error('the server in the namespace exited')
    return JSON.parse(line.value)
  }
  const { url } = await next() as { url: string }

  // Chromium joins that namespace (sh and unshare exec, so the pid is the server's).
  const dir = mkdtempSync(join(tmpdir(), 'netns-chromium-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const wrapper = join(dir, 'chromium')
  writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=/proc/${server.pid}/ns/net -- '${chromiumPath()}' "$@"\n`)
  chmodSync(wrapper, 0o755)
  const isolated = await launchBrowser(t, wrapper)
  const page = await (await isolated.newContext()).newPage()
  await page.goto(url)
  t.equal(await page.evaluate(() => navigator.onLine), false, 'the browser believes it is offline')
  await connected(page, 15000)
  t.equal(await page.locator('#status').getAttribute('data-state'), 'connected', 'and the page connected all the same')

  server.stdin.write('Raised on the isolated network\n')
  t.same(await next(), { posted: 200 })
  await shownOnce(page, 'Raised on the isolated network')
  t.pass('a live alert arrived over the socket')
  server.stdin.end()
}, { skip: isolation !== undefined && !underCI() ? `${isolation}: test skipped` : false })
