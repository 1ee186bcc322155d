import t from 'tap'
import { build, buildLogged } from './helpers/app'
import { loadConfig, meantSetting, misspeltSettings, trustedProxies } from '../plugins/app/config'
import { commaList } from '../schemas/config'

t.test('defaults match the original service', async (t) => {
  const app = await build(t, { ALERT_INTERVAL_MS: undefined })
  t.match(app.config, {
    PORT: 8000,
    HOST: '127.0.0.1',
    ALERT_INTERVAL_MS: 10000,
    ALERT_MESSAGE: 'Intruder detected',
    ALERT_LOCATION: 'North Gate',
    HISTORY_SIZE: 10,
    CORS_CREDENTIAL: false
  })
})

t.test('values are read and converted from strings, as the environment gives them', async (t) => {
  const app = await build(t, { PORT: '9123', HISTORY_SIZE: '25', CORS_CREDENTIAL: 'true', DOMAIN: 'alerts.example.com' })
  t.equal(app.config.PORT, 9123)
  t.equal(app.config.HISTORY_SIZE, 25)
  t.equal(app.config.CORS_CREDENTIAL, true)
  t.equal(app.config.DOMAIN, 'alerts.example.com')
})

// Each refusal names the variable, what it allows, and the value refused, in one line.
const invalid: Array<[string, string, RegExp]> = [
  ['PORT', 'abc', /^PORT must be a whole number from 0 to 65535 \(got "abc"\)$/],
  ['PORT', '70000', /^PORT must be a whole number from 0 to 65535 \(got "70000"\)$/],
  ['HISTORY_SIZE', '0', /^HISTORY_SIZE must be a whole number from 1 to 100000/],
  ['ALERT_INTERVAL_MS', '-5', /^ALERT_INTERVAL_MS must be a whole number of at least 0/],
  ['ALERT_INTERVAL_MS', 'often', /^ALERT_INTERVAL_MS must be a whole number/],
  ['LOG_LEVEL', 'loud', /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)$/],
  ['CORS_CREDENTIAL', 'maybe', /^CORS_CREDENTIAL must be true or false/],
  ['ALERT_MESSAGE', '   ', /^ALERT_MESSAGE must be text that is not blank of at most 1000 characters/],
  ['WS_CHAT_RATE', '0', /^WS_CHAT_RATE must be a number above 0/],
  ['RATE_LIMIT_WINDOW', 'soon', /^RATE_LIMIT_WINDOW must be milliseconds, or a positive duration such as "1 minute"/],
  ['RATE_LIMIT_WINDOW', '0', /^RATE_LIMIT_WINDOW must be/],
  ['REQUEST_TIMEOUT_MS', '0', /^REQUEST_TIMEOUT_MS must be a whole number of at least 1/],
  ['HEADERS_TIMEOUT_MS', '40000', /^HEADERS_TIMEOUT_MS must be at most REQUEST_TIMEOUT_MS \(30000\)/],
  ['KEEP_ALIVE_TIMEOUT_MS', 'long', /^KEEP_ALIVE_TIMEOUT_MS must be a whole number/],
  ['TRUST_PROXY', '1', /^TRUST_PROXY must list the proxies' addresses or CIDR ranges.*a hop count/],
  ['TRUST_PROXY', '10.0.0.0/8,proxy.local', /^TRUST_PROXY must be a comma list of IP addresses, CIDR ranges.*\(got "proxy\.local"\)$/],
  ['TRUST_PROXY', '10.0.0.0/33', /^TRUST_PROXY must be a comma list/]
]

for (const [name, value, message] of invalid) {
  t.test(`${name}=${JSON.stringify(value)} stops start-up with one line naming it and what is allowed`, async (t) => {
    const err = t.throws(() => loadConfig({ [name]: value })) as Error
    t.equal(err.name, 'ConfigError')
    t.match(err.message, message)
    t.notMatch(err.message, /\n/)
    await t.rejects(build(t, { [name]: value }), { name: 'ConfigError' })
  })
}

t.test('every invalid variable is named, in one line', async (t) => {
  const err = t.throws(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'loud' })) as Error
  t.match(err.message, /^PORT must be .*; LOG_LEVEL must be one of/)
})

t.test('an invalid RATE_LIMIT_WINDOW used to start and answer every POST with 500', async (t) => {
  for (const window of ['60000', '1 minute', '30 s', '1.5 hours', '2h']) {
    const app = await build(t, { RATE_LIMIT_WINDOW: window })
    t.equal((await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' } })).statusCode, 200, window)
  }
})

t.test('TRUST_PROXY: addresses, CIDR ranges and named ranges; empty or 0 trusts nothing', async (t) => {
  t.same(trustedProxies(loadConfig({ TRUST_PROXY: ' 10.0.0.5, 192.168.0.0/16,::1,fd00::/8, loopback ' })), ['10.0.0.5', '192.168.0.0/16', '::1', 'fd00::/8', 'loopback'])
  t.equal(trustedProxies(loadConfig({})), false)
  t.equal(trustedProxies(loadConfig({ TRUST_PROXY: '0' })), false)
})

t.test('the timeouts reach the HTTP server', async (t) => {
  const app = await build(t, { REQUEST_TIMEOUT_MS: 5000, HEADERS_TIMEOUT_MS: 2000, KEEP_ALIVE_TIMEOUT_MS: 9000 })
  t.equal(app.server.requestTimeout, 5000)
  t.equal(app.server.headersTimeout, 2000)
  t.equal(app.server.keepAliveTimeout, 9000)
  const defaults = await build(t)
  t.match(defaults.config, { REQUEST_TIMEOUT_MS: 30000, HEADERS_TIMEOUT_MS: 10000, KEEP_ALIVE_TIMEOUT_MS: 72000, TRUST_PROXY: '' })
  t.equal(defaults.server.requestTimeout, 30000, 'Fastify\'s default would be 0: no limit')
})

t.test('the logger level comes from LOG_LEVEL', async (t) => {
  const { fastify, lines } = await buildLogged(t, { LOG_LEVEL: 'warn' })
  t.equal(fastify.log.level, 'warn')
  await fastify.inject('/health')
  t.same(lines.filter((l) => (l.level as number) < 40), [], 'no info lines')
})

t.test('commaList trims and drops empty items', async (t) => {
  t.same(commaList(' GET, POST ,,'), ['GET', 'POST'])
  t.same(commaList(''), [])
})

t.test('a variable one slip away from a setting gets a warning naming the setting; the rest of the environment none', async (t) => {
  t.equal(meantSetting('TOKEN_FILE'), 'TOKENS_FILE')
  t.equal(meantSetting('LOGLEVEL'), 'LOG_LEVEL')
  t.equal(meantSetting('REDIS_URI'), 'REDIS_URL')
  t.equal(meantSetting('port'), 'PORT', 'case alone')
  t.equal(meantSetting('ALERT_INTERVAL_SM'), 'ALERT_INTERVAL_MS', 'two letters swapped')
  for (const name of ['TOKENS_FILE', 'PORT', 'HOME', 'PATH', 'HOSTNAME', 'PWD', 'TERM', 'LANG', 'NODE_ENV', 'REDIS_PORT', 'KUBERNETES_PORT', 'npm_config_cache', 'CI', '_']) {
    t.equal(meantSetting(name), undefined, name)
  }
  t.same(misspeltSettings({ TOKEN_FILE: '/etc/alerts/tokens.json', HOME: '/root', PORT: '8000' }), ['TOKEN_FILE is not a setting of this server and is ignored: did you mean TOKENS_FILE?'])
})
