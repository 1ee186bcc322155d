import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { createPublicKey } from 'node:crypto'

/** The one algorithm a public key verifies: RS256 for RSA, ES256 for P-256; anything else is refused at start-up. */
export function publicKeyAlgorithm (pem: string): 'RS256' | 'ES256' {
  let key
  try {
    key = createPublicKey(pem)
  } catch {
    throw new Error('JWT_PUBLIC_KEY is not a PEM public key')
  }
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new Error('JWT_PUBLIC_KEY must be an RSA key (RS256) or a P-256 EC key (ES256)')
}

// @fastify/jwt with JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256 or ES256),
// registered only when one is set. One algorithm is allowed, never "none", and
// expiry is checked by the auth plugin against the app's clock (tests move it).
export default fp(async function jwtVerifier (fastify) {
  const { JWT_SECRET, JWT_PUBLIC_KEY } = fastify.config
  if (JWT_SECRET === '' && JWT_PUBLIC_KEY === '') return
  const algorithm = JWT_SECRET !== '' ? 'HS256' : publicKeyAlgorithm(JWT_PUBLIC_KEY)
  await fastify.register(jwt, {
    secret: JWT_SECRET !== '' ? JWT_SECRET : { public: JWT_PUBLIC_KEY },
    verify: { algorithms: [algorithm], ignoreExpiration: true, requiredClaims: ['sub', 'scope', 'exp'] }
  })
}, { name: 'jwt', fastify: '5.x', dependencies: ['config'] })
