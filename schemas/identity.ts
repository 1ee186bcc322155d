import { Type, type Static } from '@sinclair/typebox'
import { SCOPES } from '../plugins/core/credentials'

export const ScopeName = Type.Unsafe<typeof SCOPES[number]>({ type: 'string', enum: [...SCOPES] })

export const Whoami = Type.Object({
  name: Type.Union([Type.String(), Type.Null()], { description: 'The token\'s name, the JWT\'s sub, "api" for API_TOKEN; null when the server requires no credentials.' }),
  scopes: Type.Array(ScopeName, { description: 'What the credential may do; every scope when the server requires no credentials.' }),
  expires: Type.Optional(Type.String({ format: 'date-time', description: 'When the credential stops working.' })),
  named: Type.Boolean({ description: 'True when the name is the credential\'s own (a TOKENS_FILE entry or a JWT sub): the server then uses it as the chat sender and as who acknowledges and resolves, whatever the client sends.' }),
  open: Type.Boolean({ description: 'True when the server requires no credentials (everything is allowed to everyone).' })
}, { description: 'Who the request\'s credential says it is.' })
export type Whoami = Static<typeof Whoami>
