/**
 * Acknowledge and resolve links in notifications: URLs that work without a
 * token because they are signed (HMAC-SHA256 with the server's action
 * secret) for one alert, one action and one receiver, until they expire.
 * Opening one (GET) only shows a page asking to confirm; the action happens
 * on POST, so a link preview or a mail scanner changes nothing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** What a link does, as its path says it. */
export const LINK_ACTIONS = ['ack', 'resolve'] as const
export type LinkAction = typeof LINK_ACTIONS[number]

/** The query parameter the signature travels in; its value is hidden in logs (core/redact.ts). */
export const SIGNATURE_PARAM = 'sig'

/** What a link says, signed. */
export interface LinkClaims {
  alertId: string
  action: LinkAction
  /** The receiver the link went to: the action is recorded as `notify:<receiver>`. */
  receiver: string
  /** When it stops working, ms since the epoch. */
  expires: number
}

/** The links a message carries for an alert; none for a resolved one. */
export interface AlertLinks {
  acknowledge?: string
  resolve?: string
}

/** Who an action taken through a receiver's link is recorded as. */
export const linkActor = (receiver: string): string => `notify:${receiver}`

// The signed text: one field a line, so that no value can run into another.
const signedText = ({ alertId, action, receiver, expires }: LinkClaims): string => `alert-action\n${alertId}\n${action}\n${receiver}\n${expires}`

/** The signature of a link's claims, base64url. */
export function signLink (secret: string, claims: LinkClaims): string {
  return createHmac('sha256', secret).update(signedText(claims)).digest('base64url')
}

/** The path and query of a link (no base). */
export function linkPath (claims: LinkClaims, signature: string): string {
  const query = new URLSearchParams({ by: claims.receiver, expires: String(claims.expires), [SIGNATURE_PARAM]: signature })
  return `/alerts/${encodeURIComponent(claims.alertId)}/actions/${claims.action}?${query.toString()}`
}

/** Why a link does not work: its signature does not hold (tampered, another alert's or action's, another server's), or its time is up. */
export type LinkProblem = 'invalid' | 'expired'

/** A link as it arrived: every part a string, as the URL gave it. */
export interface LinkInput {
  alertId: string
  action: string
  by?: string
  expires?: string
  sig?: string
}

/**
 * Checks a link: its signature first (in constant time), then its expiry,
 * so a changed expiry is invalid, not merely expired. Resolves with the
 * claims it was signed for, or with why it does not work.
 */
export function verifyLink (secret: string, input: LinkInput, now: number): LinkClaims | LinkProblem {
  const { alertId, action, by, expires, sig } = input
  if (!(LINK_ACTIONS as readonly string[]).includes(action) || by === undefined || expires === undefined || sig === undefined) return 'invalid'
  if (!/^\d{1,15}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'invalid'
  const claims: LinkClaims = { alertId, action: action as LinkAction, receiver: by, expires: Number(expires) }
  const expected = Buffer.from(signLink(secret, claims), 'base64url')
  const given = Buffer.from(sig, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid'
  return claims.expires <= now ? 'expired' : claims
}

export interface LinkSigner {
  /** The links of a message about this alert to this receiver, as it stands in the message: both while open, resolve once acknowledged, none once resolved. */
  links: (alert: { id: string, state: string }, receiver: string) => AlertLinks
}

/** Builds links under `base` (PUBLIC_URL, no trailing slash), valid `ttlMs` from `now()`. */
export function createLinkSigner ({ base, secret, ttlMs, now }: { base: string, secret: string, ttlMs: number, now: () => number }): LinkSigner {
  const link = (alertId: string, action: LinkAction, receiver: string): string => {
    const claims: LinkClaims = { alertId, action, receiver, expires: now() + ttlMs }
    return `${base}${linkPath(claims, signLink(secret, claims))}`
  }
  return {
    links (alert, receiver) {
      if (alert.state === 'resolved') return {}
      const resolve = link(alert.id, 'resolve', receiver)
      return alert.state === 'open' ? { acknowledge: link(alert.id, 'ack', receiver), resolve } : { resolve }
    }
  }
}

/** PUBLIC_URL checked: an http(s) URL without query or fragment, its trailing slashes cut; undefined when empty. */
export function publicUrlOf (value: string): string | undefined {
  if (value === '') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error('PUBLIC_URL must be an http:// or https:// URL, such as https://alerts.example.com')
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new Error('PUBLIC_URL must be an http:// or https:// URL without credentials, query or fragment, such as https://alerts.example.com')
  }
  return url.href.replace(/\/+$/, '')
}
