import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashToken, type Scope } from '../../plugins/core/credentials'
import type { Teardown } from './app'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/**
 * A JWT signed by hand (node:crypto), so tests can make the ones a real issuer
 * would and the ones an attacker would: alg none, another algorithm, a wrong key.
 */
export function signJwt (payload: Record<string, unknown>, key: string | KeyObject | null, alg = 'HS256'): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`
  if (key === null) return `${head}.`
  if (alg.startsWith('HS')) return `${head}.${createHmac(`sha${alg.slice(2)}`, key).update(head).digest('base64url')}`
  const signer = createSign(`sha${alg.slice(2)}`).update(head)
  // ES256 signatures are the raw r||s pair in a JWT, not DER.
  return `${head}.${signer.sign(alg.startsWith('ES') ? { key: key as KeyObject, dsaEncoding: 'ieee-p1363' } : key as KeyObject).toString('base64url')}`
}

export const JWT_SECRET = 'a-test-secret-of-at-least-32-chars!'

export function rsaKeys (): { privateKey: KeyObject, publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

export function ecKeys (): { privateKey: KeyObject, publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

export interface FileEntry { name: string, scopes: Scope[], token: string, expires?: string }

/** A TOKENS_FILE in a directory of its own, removed when the test ends; `write` replaces it as deploy tools do (a rename). */
export function tokensFile (t: Teardown, entries: FileEntry[]): { path: string, write: (entries: FileEntry[] | string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tokens-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'tokens.json')
  let n = 0
  const write = (list: FileEntry[] | string): void => {
    const text = typeof list === 'string'
      ? list
      : JSON.stringify(list.map(({ token, ...rest }) => ({ ...rest, hash: hashToken(token) })))
    const temporary = join(dir, `.tokens-${n++}.tmp`)
    writeFileSync(temporary, text)
    renameSync(temporary, path)
  }
  write(entries)
  return { path, write }
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
