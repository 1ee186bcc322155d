import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { type Teardown, listen } from './helpers/app'
import { browserTests, launchBrowser } from './helpers/browser'
import { bearer, tokensFile, type FileEntry } from './helpers/credentials'

t.setTimeout(300_000)
const test = browserTests(t)

let browser: Browser
t.before(async () => { browser = await launchBrowser(t) })

/** A text whose colour is too close to its background, as the page measured it. */
interface Failure { text: string, where: string, color: string, background: string, ratio: number, needed: number }

// Runs in the page: every piece of text shown (and every placeholder), its
// colour against the background it is drawn on (the backgrounds of its
// ancestors composed, translucent ones included, and the opacity on the way
// down), and the WCAG 2 contrast ratio: 4.5:1, or 3:1 for large text (24 px,
// or 18.66 px bold). Disabled controls are exempt, as WCAG exempts them.
function measure (): Failure[] {
  type Rgba = [number, number, number, number]
  const parse = (css: string): Rgba => {
    const m = /rgba?\(([\d.]+),?\s*([\d.]+),?\s*([\d.]+)(?:\s*[,/]\s*([\d.]+))?\)/.exec(css)
    if (m === null) throw new Error(`colour not understood: ${css}`)
    return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])]
  }
  const over = (top: Rgba, bottom: Rgba): Rgba => {
    const a = top[3]
    return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1]
  }
  const luminance = ([r, g, b]: Rgba): number => {
    const lin = (c: number): number => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 }
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
  }
  const ratio = (a: Rgba, b: Rgba): number => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
    return (hi + 0.05) / (lo + 0.05)
  }
  const hex = (c: Rgba): string => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')
  // The canvas behind everything: what the browser paints in this colour scheme.
  const canvas: Rgba = matchMedia('(prefers-color-scheme: dark)').matches ? [18, 18, 18, 1] : [255, 255, 255, 1]

  function backdrop (el: Element): { background: Rgba, opacity: number } {
    const chain: Element[] = []
    for (let node: Element | null = el; node !== null; node = node.parentElement) chain.unshift(node)
    let background = canvas
    let opacity = 1
    for (const node of chain) {
      const style = getComputedStyle(node)
      background = over(parse(style.backgroundColor), background)
      opacity *= Number(style.opacity)
    }
    return { background, opacity }
  }

  const failures: Failure[] = []
  function check (el: Element, text: string, colorCss: string, extraOpacity = 1): void {
    const style = getComputedStyle(el)
    const { background, opacity } = backdrop(el)
    const color = parse(colorCss)
    const seen = over([color[0], color[1], color[2], color[3] * opacity * extraOpacity], background)
    const size = parseFloat(style.fontSize)
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700)
    const needed = large ? 3 : 4.5
    const r = ratio(seen, background)
    if (r < needed) {
      const where = el.id !== '' ? `#${el.id}` : `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`
      failures.push({ text: text.slice(0, 40), where, color: hex(seen), background: hex(background), ratio: Math.round(r * 100) / 100, needed })
    }
  }

  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility({ opacityProperty: false, visibilityProperty: true })) continue
    if (el.closest('button:disabled, input:disabled, select:disabled') !== null) continue
    const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent ?? '').join('').trim()
    if (own !== '') check(el, own, getComputedStyle(el).color)
    if ((el instanceof HTMLInputElement || el instanceof HTMLSelectElement) && el.value !== '' && !(el instanceof HTMLInputElement && el.type === 'checkbox')) {
      check(el, el.value, getComputedStyle(el).color)
    }
    if (el instanceof HTMLInputElement && el.placeholder !== '' && el.value === '') {
      const placeholder = getComputedStyle(el, '::placeholder')
      check(el, `placeholder: ${el.placeholder}`, placeholder.color, Number(placeholder.opacity))
    }
  }
  return failures
}

async function raise (fastify: FastifyInstance, token: string, body: Record<string, unknown>): Promise<{ id: string }> {
  const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: bearer(token), payload: body })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}

/** A board with every kind of card, chat, notices and messages on show. */
async function populate (fastify: FastifyInstance, token: string): Promise<void> {
  // A silence holds an open card and a resolved one: their Silenced badges are measured.
  const silence = await fastify.inject({ method: 'POST', url: '/silences', headers: bearer(token), payload: { match: { location: 'Dock 3,Rack 7' }, duration: '1h', comment: 'dock works' } })
  if (silence.statusCode !== 201) throw new Error(silence.body)
  const critical = await raise(fastify, token, { message: 'Door forced', location: 'Dock 3', severity: 'critical' })
  await raise(fastify, token, { message: 'Disk 91% full', location: 'db1', severity: 'warning', key: 'disk:db1', tags: ['db', 'disk'], link: 'https://runbooks.example.com/disk' })
  const info = await raise(fastify, token, { message: 'Backup started late', location: 'backup-host', severity: 'info' })
  await fastify.inject({ method: 'POST', url: `/alerts/${info.id}/ack`, headers: bearer(token), payload: { note: 'looking into it' } })
  const gone = await raise(fastify, token, { message: 'Fan noisy', location: 'Rack 7', severity: 'warning' })
  await fastify.inject({ method: 'POST', url: `/alerts/${gone.id}/resolve`, headers: bearer(token) })
  await fastify.publisher.publish({ type: 'alert', source: 'ticker', message: 'Intruder detected', location: 'North Gate', severity: 'warning' })
  // An escalation is due a millisecond after the raise.
  await new Promise((resolve) => setImmediate(resolve))
  while (!await fastify.publisher.escalate(critical.id, 1)) await new Promise((resolve) => setImmediate(resolve))
  await fastify.inject({ method: 'POST', url: '/message', headers: bearer(token), payload: { sender: 'ops', message: 'On my way' } })
  // Heartbeat monitors in each state: up, running, missed (a failure).
  for (const path of ['nightly-backup/ping?every=1d', 'etl/start?schedule=0+3+*+*+*&tz=Europe/Berlin', 'certbot/fail']) {
    await fastify.inject({ url: `/heartbeats/${path}`, headers: bearer(token) })
  }
}

async function open (t: Teardown, url: string, token: string, colorScheme: 'light' | 'dark'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 }, colorScheme, reducedMotion: 'reduce' })
  t.teardown(async () => await context.close())
  const page = await context.newPage()
  await page.goto(`${url}/?token=${encodeURIComponent(token)}`)
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: 15_000 })
  await page.locator('#alert-list li.severity-critical.escalated').waitFor()
  await page.locator('#chat-list li').first().waitFor()
  await page.locator('#heartbeat-list li.state-missed').waitFor()
  await page.locator('#alert-list li.severity-critical .silenced-badge').waitFor()
  await page.locator('#sound-toggle').click()
  await page.locator('#resolved-group summary').click()
  await page.locator('#filter-text').fill('o')
  await page.locator('#filter-hidden').waitFor()
  // States that come and go (a failed request, a reconnect, a name to ask):
  // shown with a text of their own, so that their colours are measured too.
  await page.evaluate(() => {
    const show = (id: string, text?: string): void => {
      const node = document.getElementById(id) as HTMLElement
      node.hidden = false
      if (text !== undefined) node.textContent = text
    }
    show('notice', 'Reconnected after a server restart or a long break.')
    show('alert-error', 'Enter a message')
    show('alert-sent', 'Alert raised.')
    show('chat-error', 'Enter a message')
    show('board-error', 'The alert could not be resolved.')
    show('token-panel')
    show('identity')
    show('identity-form');
    (document.getElementById('identity-name') as HTMLElement).textContent = 'Ana'
    document.querySelector('#chat-list li')?.classList.add('mine')
    for (const animation of document.getAnimations()) {
      try { animation.finish() } catch { /* an endless one (the status dot) */ }
    }
  })
  return page
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`every text colour of the dashboard meets WCAG AA contrast against its background (${colorScheme} scheme)`, async (t) => {
    const admin: FileEntry = { name: 'wall', scopes: ['admin'], token: randomBytes(24).toString('base64url') }
    const { fastify, url } = await listen(t, { TOKENS_FILE: tokensFile(t, [admin]).path })
    await populate(fastify, admin.token)
    const page = await open(t, url, admin.token, colorScheme)
    t.equal(await page.locator('#signed-in').textContent(), 'Signed in as wall (admin)', 'the signed-in line is on show')
    const failures = await page.evaluate(measure)
    const lines = failures.map((f) => `${f.where} "${f.text}": ${f.color} on ${f.background} is ${f.ratio}:1, needs ${f.needed}:1`)
    t.same([...new Set(lines)], [], 'no text below 4.5:1 (3:1 when large)')
  })
}
