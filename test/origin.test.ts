import t, { type Test } from 'tap'
import { listen } from './helpers/app'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { originPolicy, publicOrigins } from '../plugins/app/origin'

const LIST = 'http://dash.example,https://ops.example.com:8443'

interface Case { origin: string, host?: string }

/** Tries each upgrade for real: `allowed` must open, `refused` must get 403 before the upgrade. */
async function check (t: Test, wsUrl: string, allowed: Case[], refused: Case[]): Promise<void> {
  for (const { origin, host } of refused) {
    const res = await refusedUpgrade(`${wsUrl}/ws`, { origin, headers: host === undefined ? {} : { host } })
    t.equal(res.status, 403, `refused: Origin ${origin}${host === undefined ? '' : `, Host ${host}`}`)
  }
  for (const { origin, host } of allowed) {
    const client = await Client.open(`${wsUrl}/ws`, t, { origin, headers: host === undefined ? {} : { host } })
    client.socket.close()
    t.pass(`allowed: Origin ${origin}`)
  }
}

t.test('with DOMAIN as a URL: that origin and the list, scheme, host and port compared; never the Host header', async (t) => {
  const { wsUrl } = await listen(t, { CORS_ORIGINS_ALLOWED: LIST, DOMAIN: 'https://alerts.example.com' })
  const self = wsUrl.replace('ws:', 'http:')
  await check(t, wsUrl, [
    { origin: 'https://alerts.example.com', host: 'alerts.example.com' },
    { origin: 'http://dash.example' },
    { origin: 'https://ops.example.com:8443' }
  ], [
    // DNS rebinding: the attacker's name resolves to this server, so Host agrees with Origin.
    { origin: 'http://evil.com', host: 'evil.com' },
    { origin: 'https://evil.com', host: 'evil.com' },
    { origin: self, host: new URL(self).host },
    { origin: 'ws://alerts.example.com', host: 'alerts.example.com' },
    { origin: 'wss://alerts.example.com' },
    { origin: 'ftp://alerts.example.com' },
    { origin: 'http://alerts.example.com' },
    { origin: 'https://alerts.example.com:8443' },
    { origin: 'https://alerts.example.com.evil.com' },
    { origin: 'https://evil.com@alerts.example.com' },
    { origin: 'https://alerts.example.com/' },
    { origin: 'https://ops.example.com' },
    { origin: 'http://ops.example.com:8443' },
    { origin: 'null' },
    { origin: 'not a url' }
  ])
})

t.test('with DOMAIN as host:port: that host and port over http or https only', async (t) => {
  const { wsUrl } = await listen(t, { CORS_ORIGINS_ALLOWED: LIST, DOMAIN: 'alerts.example.com:8000' })
  await check(t, wsUrl, [
    { origin: 'http://alerts.example.com:8000' },
    { origin: 'https://alerts.example.com:8000' }
  ], [
    { origin: 'http://evil.com:8000', host: 'evil.com:8000' },
    { origin: 'ws://alerts.example.com:8000' },
    { origin: 'ftp://alerts.example.com:8000' },
    { origin: 'http://alerts.example.com' },
    { origin: 'null' }
  ])
})

t.test('without DOMAIN: the list, and http(s) pages on a loopback host at the listening port', async (t) => {
  const { wsUrl } = await listen(t, { CORS_ORIGINS_ALLOWED: LIST })
  const { port } = new URL(wsUrl)
  const other = String(Number(port) === 65535 ? 1 : Number(port) + 1)
  await check(t, wsUrl, [
    { origin: 'http://dash.example' },
    { origin: `http://127.0.0.1:${port}` },
    { origin: `http://localhost:${port}`, host: `localhost:${port}` },
    { origin: `https://127.0.0.1:${port}` }
  ], [
    { origin: 'http://evil.com', host: 'evil.com' },
    { origin: `http://evil.com:${port}`, host: `evil.com:${port}` },
    { origin: `http://10.1.2.3:${port}`, host: `10.1.2.3:${port}` },
    { origin: `http://127.0.0.1:${other}` },
    { origin: `http://localhost:${other}`, host: `localhost:${other}` },
    { origin: 'http://127.0.0.1' },
    { origin: `ws://127.0.0.1:${port}` },
    { origin: `ftp://127.0.0.1:${port}` },
    { origin: `http://127.0.0.1:${port}/` },
    { origin: `http://user@127.0.0.1:${port}` },
    { origin: 'null' }
  ])
})

t.test('policy helpers', async (t) => {
  t.same(publicOrigins(''), [])
  t.same(publicOrigins('https://alerts.example.com/base/'), ['https://alerts.example.com'])
  t.same(publicOrigins('http://alerts.example.com:80'), ['http://alerts.example.com'], 'default port dropped, as browsers do')
  t.same(publicOrigins('alerts.example.com'), ['http://alerts.example.com', 'https://alerts.example.com'])
  t.same(publicOrigins('ws://alerts.example.com'), [], 'a page is never served over ws')
  t.same(publicOrigins('bad host'), [])
  const allows = originPolicy(['https://listed.example/'], '')
  t.ok(allows('https://listed.example'), 'list entries are normalized')
  t.notOk(allows('http://127.0.0.1:80'), 'no port known (an injected request): loopback is not enough')
  t.ok(allows('http://127.0.0.1', 80))
  t.ok(allows('https://[::1]', 443))
  t.notOk(allows('http://127.0.0.1', 443))
})
