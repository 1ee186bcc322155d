/**
 * Makes a new token for TOKENS_FILE: prints the token once (it is stored
 * nowhere) and the entry to add to the file, which holds only its hash.
 *
 *   npm run token -- --name lobby --scopes subscribe [--expires 2027-01-01T00:00:00Z]
 *
 * The build compiles it too, for a production install without tsx:
 *
 *   node dist/scripts/token.js --name lobby --scopes subscribe
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { hashToken, parseTokensFile, type TokenEntry } from '../plugins/core/credentials'
import { SCOPES } from '../schemas/identity'

/** 256 random bits, URL-safe: fit for a header and for ?token=. */
export const newToken = (): string => randomBytes(32).toString('base64url')

/** The token and its TOKENS_FILE entry for the arguments, or a string saying what is wrong. */
export function makeToken (args: string[], token: string = newToken()): { token: string, entry: Record<string, unknown> } | string {
  let values
  try {
    ({ values } = parseArgs({ args, options: { name: { type: 'string' }, scopes: { type: 'string' }, expires: { type: 'string' } }, strict: true }))
  } catch (err) {
    return (err as Error).message
  }
  const scopes = (values.scopes ?? '').split(/[\s,]+/).filter(Boolean)
  const entry = { name: values.name, scopes, hash: hashToken(token), ...(values.expires === undefined ? {} : { expires: values.expires }) }
  // Checked as the server will read it, so what is printed is what it accepts.
  const read = parseTokensFile(JSON.stringify([entry]))
  if (typeof read === 'string') return read.replace(/^entry 0: /, '')
  return { token, entry: { ...entry, scopes: (read[0] as TokenEntry).scopes } }
}

/* c8 ignore start - the command line around makeToken, run in child processes: by test/credentials.test.ts (tsx) and, compiled, by test/server.test.ts */
if (require.main === module) {
  const made = makeToken(process.argv.slice(2))
  if (typeof made === 'string') {
    process.stderr.write(`${made}\nusage: npm run token -- --name <name> --scopes <${SCOPES.join(',')}> [--expires <ISO date-time>]\n`)
    process.exit(2)
  }
  process.stdout.write(`token (shown once; give it to the client, it is stored nowhere):\n${made.token}\n\n` +
    `add this entry to TOKENS_FILE (the JSON list); the server picks it up at once:\n${JSON.stringify(made.entry)}\n`)
}
/* c8 ignore stop */
