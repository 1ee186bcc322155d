import t from 'tap'
import { connect } from 'node:net'
import { buildLogged } from './helpers/app'
import { once } from './helpers/wait'
import { exchange } from './helpers/raw'
import { redactToken } from '../app'

const TOKEN = 'Tk-9f8e7d6c5b4a39281706'
const WRONG = 'Wr-0a1b2c3d4e5f60718293'
const percentEncoded = (s: string): string => [...Buffer.from(s)].map((b) => '%' + b.toString(16).padStart(2, '0')).join('')

/** Sends one raw request (bytes exactly as given) and resolves with the status line's code. */
async function raw (port: number, target: string, upgrade: boolean): Promise<number> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let response = ''
  socket.on('data', (c: Buffer) => { response += c.toString('latin1') })
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    (upgrade ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' : 'Connection: close\r\n') +
    '\r\n')
  while (!/^HTTP\/1\.1 \d{3}/.test(response)) await once(socket, 'data')
  socket.destroy()
  return Number(response.slice(9, 12))
}

t.test('no form of the token the server reads reaches a log line, on any path, accepted or refused', async (t) => {
  const { fastify, text } = await buildLogged(t, { API_TOKEN: TOKEN, LOG_LEVEL: 'debug' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }

  // Forms the server accepts: the plain name and any percent-encoding of it (the query parser decodes names).
  for (const name of ['token', '%74oken', 't%6Fk%65n', '%74%6F%6B%65%6E', percentEncoded('token')]) {
    t.equal(await raw(port, `/ws?since=all&${name}=${TOKEN}`, true), 101, `/ws?${name}= is accepted`)
    t.equal(await raw(port, `/ws?${name}=${percentEncoded(TOKEN)}`, true), 101, `/ws?${name}=<percent-encoded token> is accepted`)
    t.equal(await raw(port, `/ws?${name}=${WRONG}`, true), 401, `a wrong token as ${name} is refused`)
  }
  // Anywhere else: an upgrade to a path with no WebSocket route (logged by
  // @fastify/websocket with its raw path), unknown routes, plain GETs, other spellings.
  const elsewhere: Array<[string, boolean]> = [
    [`/?token=${TOKEN}`, true],
    [`/?%74oken=${TOKEN}`, true],
    [`/nope?a=1&token=${TOKEN}`, true],
    [`/nope?token=${TOKEN}`, false],
    [`/nope?T%4fKEN=${TOKEN}`, false],
    [`/alerts/history?token=${TOKEN}`, false],
    [`/alerts/history?x=1&%74oken=${TOKEN}&y=2`, false],
    [`/ws?TOKEN=${TOKEN}`, true],
    [`/ws?token=${TOKEN}&token=${TOKEN}`, true],
    [`/ws??token=${TOKEN}`, true],
    [`/ws?token=${TOKEN}#frag`, true],
    [`/ws?token=a"${TOKEN}`, true],
    [`/ws?token=a\\${TOKEN}`, true]
  ]
  // (@fastify/websocket completes an upgrade to a path without a WebSocket route, then closes it.)
  for (const [target, upgrade] of elsewhere) t.ok(await raw(port, target, upgrade) > 0, `${target} answered`)

  const log = text()
  t.ok(log.length > 0 && log.includes('[redacted]'), 'the requests were logged, redacted')
  t.match(log, /no websocket handler/, '@fastify/websocket logged the upgrade to /')
  for (const secret of [TOKEN, WRONG, percentEncoded(TOKEN), TOKEN.slice(3)]) {
    t.notOk(log.includes(secret), `${secret} appears nowhere`)
  }
})

t.test('redactToken hides the value of any query parameter whose decoded name is token', async (t) => {
  t.equal(redactToken('/ws?since=all&token=abc&x=1'), '/ws?since=all&token=[redacted]&x=1')
  t.equal(redactToken('/ws?TOKEN=abc'), '/ws?TOKEN=[redacted]')
  t.equal(redactToken('/?%74oken=abc'), '/?%74oken=[redacted]')
  t.equal(redactToken('/?%74%6f%6B%65%6E=abc&a=b'), '/?%74%6f%6B%65%6E=[redacted]&a=b')
  t.equal(redactToken('{"url":"/ws?token=a\\"b\\\\c","x":1}'), '{"url":"/ws?token=[redacted]","x":1}', 'escaped characters in a JSON line')
  t.equal(redactToken('/ws?tokens=abc&atoken=b'), '/ws?tokens=abc&atoken=b', 'other names are left alone')
  t.equal(redactToken('no query here'), 'no query here')
})

t.test('a 404 (or any error that quotes the URL) shows token=[redacted], never a piece of the token, and logs none', async (t) => {
  const { fastify, text } = await buildLogged(t, { API_TOKEN: TOKEN })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const targets = [
    `/no-such-route?token=${TOKEN}`,
    `/no-such-route?a=1&token=${TOKEN}&b=2`,
    `/no-such-route?%74oken=${TOKEN}`,
    `/no-such-route?token=a"${TOKEN}`,
    `/no-such-route?token=a\\${TOKEN}#frag`,
    `/no-such-route?token=${percentEncoded(TOKEN)}`
  ]
  for (const target of targets) {
    const res = await exchange(t, port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, 404, target)
    const { message } = JSON.parse(res.body) as { message: string }
    t.match(message, /(token|%74oken)=\[redacted\]/, `${target}: ${message}`)
    for (const piece of [TOKEN.slice(0, 6), TOKEN.slice(3), percentEncoded(TOKEN).slice(0, 9)]) {
      t.notOk(message.includes(piece), `${target}: no ${piece} in the message`)
    }
  }
  t.equal((await fastify.inject({ url: `/no-such-route?x=1&token=${TOKEN}` })).json().message, 'Route GET:/no-such-route?x=1&token=[redacted] not found')
  const log = text()
  for (const secret of [TOKEN, TOKEN.slice(3), percentEncoded(TOKEN)]) t.notOk(log.includes(secret), `${secret} appears nowhere in the log`)
})
