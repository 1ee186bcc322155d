/**
 * How each kind of receiver is told: a webhook's signed JSON, Slack's
 * incoming-webhook message, an ntfy publish, an e-mail. One attempt each;
 * the sender (notify-sender.ts) owns timeouts, retries and records.
 */
import { createHmac } from 'node:crypto'
import { createTransport, type Transporter } from 'nodemailer'
import type { OutboxEntry } from './backend'
import type { Receiver } from './notify-config'
import { noticeOf, plainText, type Notice } from './notify-messages'
import type { LinkSigner } from './action-links'

/** A failed attempt: what went wrong, and the HTTP or SMTP status when there was one. */
export class DeliveryError extends Error {
  constructor (message: string, readonly status?: number) { super(message) }
}

/** Delivers one message to a receiver: one entry, or a group of its entries; resolves with the status of the answer, rejects with why not. */
export type Deliver = (receiver: Receiver, entries: OutboxEntry[], signal: AbortSignal) => Promise<{ status?: number }>

export interface DeliverOptions {
  /** The public URL of the server (DOMAIN), for the links. */
  domain: string
  /** SMTP_URL (smtp:// or smtps://, with credentials) and SMTP_FROM; without them there is no e-mail. */
  smtpUrl?: string
  smtpFrom?: string
  /** How long an SMTP connection may be silent (the sender's timeout). */
  timeoutMs: number
  /** What signs the Acknowledge and Resolve links; resolves undefined when messages carry none (no PUBLIC_URL). */
  signer?: () => Promise<LinkSigner | undefined>
}

export interface Deliverer {
  deliver: Deliver
  /** Closes the SMTP transport. */
  close: () => void
}

/** The header a webhook's body is signed in: `sha256=` and the hex HMAC-SHA256 of the body with the receiver's secret. */
export const SIGNATURE_HEADER = 'x-alert-signature'
/** The header carrying the delivery id, the same on every retry of one notification. */
export const DELIVERY_HEADER = 'x-alert-delivery'

export function signature (secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** The webhook's JSON: what happened, the alert as the API shows it, and its URL. */
export function webhookBody (notice: Notice, deliveryId: string): Record<string, unknown> {
  const body: Record<string, unknown> = { deliveryId, event: notice.kind, at: notice.at, text: notice.headline, alert: notice.alert }
  if (notice.by !== undefined) body.by = notice.by
  if (notice.note !== undefined) body.note = notice.note
  if (notice.url !== undefined) body.url = notice.url
  if (notice.actions !== undefined) body.actions = notice.actions
  return body
}

/** A notice's action links as label and URL, Acknowledge first. */
function actionLinks (notice: Notice): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (notice.actions?.acknowledge !== undefined) out.push(['Acknowledge', notice.actions.acknowledge])
  if (notice.actions?.resolve !== undefined) out.push(['Resolve', notice.actions.resolve])
  return out
}

// Slack's mrkdwn reserves these three (docs.slack.dev, "Formatting text for app surfaces": escaping).
const mrkdwn = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
const cut = (text: string, max: number): string => text.length <= max ? text : `${text.slice(0, max - 1)}…`

/** The most fields a Block Kit section holds. */
const SLACK_FIELDS = 10

/**
 * Slack's incoming-webhook message: `text` (the notification's fallback) and
 * Block Kit blocks: a header (plain_text, 150 characters at most), a section
 * with the message and up to 10 fields (2,000 characters each), a section of
 * the fields past 10 if there are more, and a context line with the links.
 * Mattermost and Rocket.Chat take the same.
 */
export function slackBody (notice: Notice): Record<string, unknown> {
  const links: string[] = []
  if (notice.url !== undefined) links.push(`<${notice.url}|Timeline>`)
  if (notice.dashboard !== undefined) links.push(`<${notice.dashboard}|Dashboard>`)
  if (notice.alert.link !== undefined) links.push(`<${notice.alert.link}|Link>`)
  links.push(...actionLinks(notice).map(([label, url]) => `<${url}|${label}>`))
  const fields = notice.fields.filter(([label]) => label !== 'Link').map(([label, value]) => ({ type: 'mrkdwn', text: cut(`*${label}*\n${mrkdwn(value)}`, 2000) }))
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: cut(`${notice.alert.severity.toUpperCase()}: ${notice.happened}`, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(`*${mrkdwn(notice.alert.message)}*`, 3000) }, fields: fields.slice(0, SLACK_FIELDS) }
  ]
  // A section holds 10 fields at most: the rest (a note, who resolved) go in the next one.
  for (let i = SLACK_FIELDS; i < fields.length; i += SLACK_FIELDS) blocks.push({ type: 'section', fields: fields.slice(i, i + SLACK_FIELDS) })
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join('  ·  ') }] })
  return { text: notice.headline, blocks }
}

/** A group's one line: how many, and the most severe first. */
export function groupHeadline (notices: Notice[]): string {
  const first = mostSevere(notices)
  return `${notices.length} notifications: ${first.headline}${notices.length > 1 ? ' and more' : ''}`
}

const RANK = { info: 0, warning: 1, critical: 2 } as const
function mostSevere (notices: Notice[]): Notice {
  return notices.reduce((best, n) => RANK[n.alert.severity] > RANK[best.alert.severity] ? n : best)
}

/** A group for Slack: the count as text, then a section per notification (Slack takes 50 blocks at most). */
export function slackGroupBody (notices: Notice[]): Record<string, unknown> {
  const shown = notices.slice(0, 48)
  const blocks: Array<Record<string, unknown>> = [{ type: 'header', text: { type: 'plain_text', text: cut(`${notices.length} notifications`, 150) } }]
  for (const notice of shown) {
    const targets: Array<[string, string]> = notice.url === undefined ? [] : [['Timeline', notice.url]]
    const link = [...targets, ...actionLinks(notice)].map(([label, url]) => `  <${url}|${label}>`).join('')
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*${mrkdwn(notice.headline)}*${link}`, 3000) } })
  }
  if (notices.length > shown.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${notices.length - shown.length} more` }] })
  return { text: groupHeadline(notices), blocks }
}

/** ntfy's priorities: 5 max, 4 high, 3 default, 2 low (docs.ntfy.sh/publish, "Message priority"). */
export function ntfyPriority (notice: Notice): number {
  if (notice.kind === 'acknowledged' || notice.kind === 'resolved') return 2
  return notice.alert.severity === 'critical' ? 5 : notice.alert.severity === 'warning' ? 4 : 3
}

/** A header value: one line, and non-ASCII text as an RFC 2047 encoded word, which ntfy decodes. */
export function headerValue (text: string): string {
  const line = text.replace(/[\r\n\t]+/g, ' ')
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line).toString('base64')}?=`
}

/** The headers of an ntfy publish (X-Title, X-Priority, X-Tags, X-Click; ntfy ignores a bare Priority that looks like RFC 9218's). */
export function ntfyHeaders (notice: Notice, token?: string): Record<string, string> {
  const tags = [notice.kind === 'resolved' ? 'white_check_mark' : notice.kind === 'acknowledged' ? 'eyes' : notice.kind === 'reminder' ? 'alarm_clock' : notice.alert.severity === 'critical' ? 'rotating_light' : notice.alert.severity === 'warning' ? 'warning' : 'information_source', notice.kind, ...(notice.alert.tags ?? [])]
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'x-title': headerValue(cut(notice.headline, 250)),
    'x-priority': String(ntfyPriority(notice)),
    'x-tags': headerValue(tags.join(','))
  }
  const click = notice.alert.link ?? notice.url ?? notice.dashboard
  if (click !== undefined) headers['x-click'] = click
  // Action buttons (docs.ntfy.sh/publish, "Action buttons", simple format): `http` posts from the phone, which is the action itself.
  const actions = actionLinks(notice).map(([label, url]) => `http, ${label}, ${url}, method=POST, clear=true`)
  if (actions.length > 0) headers['x-actions'] = actions.join('; ')
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  return headers
}

const escapeHtml = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** The e-mail's HTML part: for each notification, the headline, the fields as a table, the links. */
export function emailHtml (notices: Notice[]): string {
  const parts = notices.map((notice) => {
    const rows = notice.fields.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`).join('')
    const links = [
      notice.url === undefined ? '' : `<a href="${escapeHtml(notice.url)}">Timeline</a>`,
      notice.dashboard === undefined ? '' : `<a href="${escapeHtml(notice.dashboard)}">Dashboard</a>`,
      ...actionLinks(notice).map(([label, url]) => `<a href="${escapeHtml(url)}">${label}</a>`)
    ].filter((l) => l !== '').join(' · ')
    return `<h2>${escapeHtml(notice.headline)}</h2><table>${rows}</table>${links === '' ? '' : `<p>${links}</p>`}`
  })
  return `<!doctype html><html><body>${parts.join('<hr>')}</body></html>`
}

/** A group as plain text: each notification's text, one after the other. */
export function groupText (notices: Notice[]): string {
  return `${groupHeadline(notices)}\n\n${notices.map(plainText).join('\n---\n\n')}`
}

/**
 * A URL's user and password (https://user:password@host/…) as a Basic
 * Authorization header, and the URL without them: fetch refuses a URL that
 * carries credentials. An ntfy token, sent as Bearer, wins.
 */
export function withCredentials (url: string, headers: Record<string, string>): { url: string, headers: Record<string, string> } {
  const parsed = new URL(url)
  if (parsed.username === '' && parsed.password === '') return { url, headers }
  const basic = Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')
  parsed.username = ''
  parsed.password = ''
  return { url: parsed.href, headers: { authorization: `Basic ${basic}`, ...headers } }
}

async function post (target: string, sent: Record<string, string>, body: string, signal: AbortSignal): Promise<{ status: number }> {
  const { url, headers } = withCredentials(target, sent)
  const response = await fetch(url, { method: 'POST', headers: { 'user-agent': 'alert-server', ...headers }, body, signal, redirect: 'manual' })
  // The answer's body is not needed: drop it so the connection is free again.
  await response.body?.cancel().catch(() => {})
  if (response.status < 200 || response.status > 299) throw new DeliveryError(`answered HTTP ${response.status}`, response.status)
  return { status: response.status }
}

/** What went wrong in a few words: a network error's code (never its URL), or the error's message. */
export function failureOf (err: unknown, signal: AbortSignal): DeliveryError {
  if (err instanceof DeliveryError) return err
  if (signal.aborted) return new DeliveryError('no answer within the timeout')
  const cause = (err as { cause?: { code?: unknown } }).cause
  const code = (err as { code?: unknown }).code ?? cause?.code
  // nodemailer's errors: the server's reply code, and its own code (EAUTH, EENVELOPE, ECONNECTION…); never the reply's text, which may quote an address or a login.
  const status = (err as { responseCode?: unknown }).responseCode
  const named = typeof code === 'string' ? ` (${code})` : ''
  if (typeof status === 'number') return new DeliveryError(`the mail server answered ${status}${named}`, status)
  if (code === 'EAUTH' || code === 'EENVELOPE' || code === 'EMESSAGE') return new DeliveryError(`the mail server refused the mail${named}`)
  return new DeliveryError(`cannot reach the receiver${named}`)
}

export function createDeliverer ({ domain, smtpUrl, smtpFrom, timeoutMs, signer }: DeliverOptions): Deliverer {
  let mailer: Transporter | undefined
  const transport = (): Transporter => {
    if (smtpUrl === undefined || smtpUrl === '') throw new DeliveryError('SMTP_URL is not set')
    mailer ??= createTransport({ url: smtpUrl, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs })
    return mailer
  }

  async function deliver (receiver: Receiver, entries: OutboxEntry[], signal: AbortSignal): Promise<{ status?: number }> {
    const links = await signer?.()
    const notices = entries.map((entry) => noticeOf(entry.kind, entry.event, domain, links === undefined ? undefined : (alert) => links.links(alert, receiver.name)))
    const entry = entries[0] as OutboxEntry
    const notice = notices[0] as Notice
    const grouped = entries.length > 1
    // A group goes under its first notification's delivery id.
    const common = { [DELIVERY_HEADER]: entry.id }
    switch (receiver.kind) {
      case 'webhook': {
        const body = JSON.stringify(grouped
          ? { deliveryId: entry.id, event: 'group', count: entries.length, text: groupHeadline(notices), notifications: entries.map((e, i) => webhookBody(notices[i] as Notice, e.id)) }
          : webhookBody(notice, entry.id))
        const headers: Record<string, string> = { ...common, 'content-type': 'application/json', 'x-alert-event': grouped ? 'group' : entry.kind }
        if (receiver.secret !== undefined) headers[SIGNATURE_HEADER] = signature(receiver.secret, body)
        return await post(receiver.url, headers, body, signal)
      }
      case 'slack':
        return await post(receiver.url, { 'content-type': 'application/json' }, JSON.stringify(grouped ? slackGroupBody(notices) : slackBody(notice)), signal)
      case 'ntfy': {
        const lead = grouped ? mostSevere(notices) : notice
        const headers = ntfyHeaders(lead, receiver.token)
        if (grouped) headers['x-title'] = headerValue(cut(groupHeadline(notices), 250))
        return await post(receiver.url, headers, grouped ? groupText(notices) : plainText(notice), signal)
      }
      case 'email': {
        const from = receiver.from ?? smtpFrom
        if (from === undefined || from === '') throw new DeliveryError('no sender address: set SMTP_FROM or the receiver\'s from')
        const mail = transport().sendMail({
          from,
          to: receiver.to,
          subject: (grouped ? groupHeadline(notices) : notice.headline).slice(0, 200),
          text: grouped ? groupText(notices) : plainText(notice),
          html: emailHtml(notices),
          headers: { 'X-Alert-Delivery': entry.id }
        })
        const aborted = new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new DeliveryError('no answer within the timeout')), { once: true })
        })
        const info = await Promise.race([mail, aborted]) as { response?: string }
        const code = Number(/^(\d{3})/.exec(info.response ?? '')?.[1])
        return Number.isNaN(code) ? {} : { status: code }
      }
    }
  }

  return {
    deliver,
    close () {
      mailer?.close()
      mailer = undefined
    }
  }
}
