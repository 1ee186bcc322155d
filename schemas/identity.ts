import { Type, type Static } from '@sinclair/typebox'

/**
 * What a credential may do. `admin` is everything; `metrics` reads /metrics
 * and nothing else (METRICS_TOKEN, or a scraper's entry in TOKENS_FILE).
 */
export const SCOPES = ['subscribe', 'publish', 'operate', 'admin', 'metrics'] as const
export type Scope = typeof SCOPES[number]

/** The OpenAPI description of the bearer scheme: which tokens there are and what each scope allows. */
export const SCHEME_DESCRIPTION = 'A token from TOKENS_FILE, API_TOKEN (every scope), METRICS_TOKEN (/metrics only) or a JWT (JWT_SECRET or JWT_PUBLIC_KEY; ' +
  'claims sub, scope, exp). Scopes: subscribe (read, /ws), publish (raise alerts, chat), operate (acknowledge, resolve), admin (everything), ' +
  'metrics (/metrics). Also accepted as ?token= on the WebSocket upgrade.'

export const ScopeName = Type.Unsafe<Scope>({ type: 'string', enum: [...SCOPES] })

export const Whoami = Type.Object({
  name: Type.Union([Type.String(), Type.Null()], { description: 'The token\'s name, the JWT\'s sub, "api" for API_TOKEN; null when the server requires no credentials.' }),
  scopes: Type.Array(ScopeName, { description: 'What the credential may do; every scope when the server requires no credentials.' }),
  expires: Type.Optional(Type.String({ format: 'date-time', description: 'When the credential stops working.' })),
  named: Type.Boolean({ description: 'True when the name is the credential\'s own (a TOKENS_FILE entry or a JWT sub): the server then uses it as the chat sender and as who acknowledges and resolves, whatever the client sends.' }),
  open: Type.Boolean({ description: 'True when the server requires no credentials (everything is allowed to everyone).' })
}, { description: 'Who the request\'s credential says it is.' })
export type Whoami = Static<typeof Whoami>
