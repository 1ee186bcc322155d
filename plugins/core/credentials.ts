import { createHash, timingSafeEqual } from 'node:crypto'
import { SCOPES, type Scope } from '../../schemas/identity'
import { parseDateTime } from './duration'

export type { Scope }

/** Who a request is: the token's name or `jwt:` and the JWT's sub, what it may do, until when. */
export interface Identity {
  name: string
  scopes: Scope[]
  /** Epoch ms after which the credential no longer holds; none for tokens without "expires". */
  expires?: number
  /**
   * Which credential this is, to tell later whether it was revoked: the hash of a
   * TOKENS_FILE entry, or 'api', 'metrics', 'jwt' (those are never revoked).
   */
  credential: string
  /**
   * Whether the name is a person's or a program's own (a TOKENS_FILE entry or a
   * JWT sub): it then names chat senders and acknowledgers and keys rate limits.
   * The shared API_TOKEN ("api") and METRICS_TOKEN are not.
   */
  named: boolean
}

/** One entry of TOKENS_FILE, as read. */
export interface TokenEntry {
  name: string
  scopes: Scope[]
  /** "sha256:<64 hex>" of the token. */
  hash: string
  expires?: number
}

/**
 * Why a subscriber's credential no longer holds: its entry removed, past its
 * `expires`, or no longer holding the subscribe scope (admin included).
 */
export type Lapse = 'revoked' | 'expired' | 'unsubscribed'

/** The close reason (1008) a lapsed subscriber is given, and the message of a stream's last frame. */
export const LAPSE_REASONS: Record<Lapse, string> = {
  revoked: 'token revoked',
  expired: 'token expired',
  unsubscribed: 'token no longer has the subscribe scope'
}

export const scopeAllows = (scopes: readonly Scope[], needed: Scope): boolean =>
  scopes.includes(needed) || scopes.includes('admin')

export const hashToken = (token: string): string => 'sha256:' + createHash('sha256').update(token).digest('hex')

// Hashing first gives both sides the same length, so the comparison time
// says nothing about the token.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export function sameToken (given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/** What a JWT's name is shown and keyed as: `jwt:<sub>`, never the name of a TOKENS_FILE entry (which cannot start so). */
export const JWT_PREFIX = 'jwt:'

const NAME = /^[\w.@:-]{1,64}$/
const HASH = /^sha256:[0-9a-f]{64}$/

/** Checks a list of scope names; a string says what is wrong. */
export function readScopes (value: unknown, where: string): Scope[] | string {
  if (!Array.isArray(value) || value.length === 0) return `${where}: "scopes" must be a non-empty list of ${SCOPES.join(', ')}`
  for (const scope of value) {
    if (!(SCOPES as readonly unknown[]).includes(scope)) return `${where}: unknown scope ${JSON.stringify(scope)}; use ${SCOPES.join(', ')}`
  }
  return [...new Set(value as Scope[])]
}

/**
 * Reads TOKENS_FILE's text: a JSON list of {name, scopes, hash, expires?}. A
 * string says what is wrong (never quoting a hash). The whole file is refused
 * on one bad entry: half a file would revoke the rest without a word.
 */
export function parseTokensFile (text: string): TokenEntry[] | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'not valid JSON'
  }
  if (!Array.isArray(value)) return 'must be a JSON list of {"name", "scopes", "hash", "expires"?} entries'
  const entries: TokenEntry[] = []
  for (const [i, raw] of value.entries()) {
    const where = `entry ${i}`
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `${where}: must be an object`
    const { name, scopes, hash, expires, ...rest } = raw as Record<string, unknown>
    const extra = Object.keys(rest)
    if (extra.length > 0) return `${where}: unknown field ${JSON.stringify(extra[0])} (the file holds hashes only, never a token)`
    if (typeof name !== 'string' || !NAME.test(name)) return `${where}: "name" must be 1 to 64 letters, digits or . _ - @ :`
    if (name.startsWith(JWT_PREFIX)) return `${where}: "name" must not start with ${JWT_PREFIX} (the names of JWT identities start so)`
    const read = readScopes(scopes, where)
    if (typeof read === 'string') return read
    if (typeof hash !== 'string' || !HASH.test(hash)) return `${where}: "hash" must be "sha256:" and 64 lowercase hex digits (npm run token prints it)`
    let ms: number | undefined
    if (expires !== undefined) {
      ms = typeof expires === 'string' ? parseDateTime(expires) : undefined
      if (ms === undefined) return `${where}: "expires" must be an ISO 8601 date-time with a time zone, on a real day, such as "2027-01-01T00:00:00Z"`
    }
    entries.push({ name, scopes: read, hash, ...(ms === undefined ? {} : { expires: ms }) })
  }
  return entries
}

export interface CredentialsOptions {
  /** The all-scopes token "api" (API_TOKEN); '' for none. */
  apiToken: string
  /** The /metrics-only token (METRICS_TOKEN); '' for none. */
  metricsToken: string
  now: () => number
}

export interface Credentials {
  /** The identity a static token (API_TOKEN, METRICS_TOKEN or a TOKENS_FILE entry) stands for, if it is valid now. */
  identify: (token: string) => Identity | undefined
  /** Replaces the TOKENS_FILE entries (after a reload). */
  replace: (entries: TokenEntry[]) => void
  /**
   * Whether an identity handed out earlier may still subscribe, judged by its
   * TOKENS_FILE entry as it now stands: undefined, or why not.
   */
  lapse: (identity: Identity) => Lapse | undefined
  /**
   * An identity handed out earlier as it now stands: a TOKENS_FILE entry's
   * current scopes and expiry (a reload may have narrowed them), or undefined
   * once it is removed or expired. What a long-lived connection may do is
   * asked here each time, not kept from when it opened.
   */
  current: (identity: Identity) => Identity | undefined
  /** Entries now loaded. */
  readonly size: number
}

/** The static tokens: API_TOKEN, METRICS_TOKEN and TOKENS_FILE's entries, looked up by hash. */
export function createCredentials ({ apiToken, metricsToken, now }: CredentialsOptions): Credentials {
  // By hash: the file holds nothing else, and a lookup by hash tells a timing
  // observer nothing about any token. Several entries may share a name.
  let byHash = new Map<string, TokenEntry>()
  const api: Identity = { name: 'api', scopes: ['subscribe', 'publish', 'operate', 'admin'], credential: 'api', named: false }
  const metrics: Identity = { name: 'metrics', scopes: ['metrics'], credential: 'metrics', named: false }
  return {
    identify (token) {
      if (apiToken !== '' && sameToken(token, apiToken)) return api
      if (metricsToken !== '' && sameToken(token, metricsToken)) return metrics
      const hash = hashToken(token)
      const entry = byHash.get(hash)
      if (entry === undefined || (entry.expires !== undefined && entry.expires <= now())) return undefined
      return { name: entry.name, scopes: entry.scopes, expires: entry.expires, credential: hash, named: true }
    },
    replace (entries) {
      byHash = new Map(entries.map((entry) => [entry.hash, entry]))
    },
    lapse (identity) {
      if (!identity.credential.startsWith('sha256:')) return identity.expires !== undefined && identity.expires <= now() ? 'expired' : undefined
      const entry = byHash.get(identity.credential)
      if (entry === undefined) return 'revoked'
      if (entry.expires !== undefined && entry.expires <= now()) return 'expired'
      return scopeAllows(entry.scopes, 'subscribe') ? undefined : 'unsubscribed'
    },
    current (identity) {
      if (!identity.credential.startsWith('sha256:')) return identity.expires !== undefined && identity.expires <= now() ? undefined : identity
      const entry = byHash.get(identity.credential)
      if (entry === undefined || (entry.expires !== undefined && entry.expires <= now())) return undefined
      return { name: entry.name, scopes: entry.scopes, expires: entry.expires, credential: identity.credential, named: true }
    },
    get size () { return byHash.size }
  }
}

// The most milliseconds a Date holds (±100,000,000 days from 1970): a claim
// beyond it is no moment at all.
const MAX_DATE_MS = 8.64e15

/** Whether a NumericDate claim (seconds) is a number that stands for a moment a Date can hold. */
const isMoment = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value * 1000) <= MAX_DATE_MS

// A sub names acknowledgers and chat senders, on one line: the rules of
// `by` (1 to 200 characters, well-formed Unicode: no lone surrogate, something
// visible), and no control or format character anywhere (a newline, a zero-width space).
const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}]/u
const MAX_SUB = 200 - JWT_PREFIX.length
const isName = (sub: string): boolean => [...sub].length <= MAX_SUB && VISIBLE.test(sub) && !INVISIBLE.test(sub)

/**
 * The claims a JWT must carry, read; a string says what is missing or wrong.
 * One rule for exp and nbf wherever a JWT is taken: a number of seconds that
 * a Date can hold (`exp: 1e300` is no date: the token is not valid).
 */
export function readClaims (payload: unknown): Identity | string {
  const { sub, scope, exp, nbf } = (payload ?? {}) as Record<string, unknown>
  if (typeof sub !== 'string' || !isName(sub)) return `the JWT needs a "sub" claim (1 to ${MAX_SUB} characters, something visible, no control or zero-width characters)`
  if (typeof scope !== 'string') return 'the JWT needs a "scope" claim (space-separated scopes)'
  if (!isMoment(exp)) return 'the JWT needs an "exp" claim (seconds since 1970, within the range of a date)'
  if (nbf !== undefined && !isMoment(nbf)) return 'the JWT\'s "nbf" claim must be seconds since 1970, within the range of a date'
  // Unknown scopes are skipped, as OAuth servers do: an issuer may grant scopes of other services.
  const scopes = scope.split(' ').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))
  return { name: JWT_PREFIX + sub, scopes: [...new Set(scopes)], expires: exp * 1000, credential: 'jwt', named: true }
}

/** Whether a token is shaped as a JWT (three base64url parts), so it is verified as one rather than looked up. */
export const looksLikeJwt = (token: string): boolean => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)
