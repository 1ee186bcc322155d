import t from 'tap'
import { build } from './helpers/app'
import { commaList } from '../plugins/app/config'

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

const invalid: Array<[string, string, RegExp]> = [
  ['PORT', 'abc', /PORT must be integer/],
  ['PORT', '70000', /PORT must be <= 65535/],
  ['HISTORY_SIZE', '0', /HISTORY_SIZE must be >= 1/],
  ['ALERT_INTERVAL_MS', '-5', /ALERT_INTERVAL_MS must be >= 0/],
  ['ALERT_INTERVAL_MS', 'often', /ALERT_INTERVAL_MS must be integer/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL must be equal to one of the allowed values/],
  ['CORS_CREDENTIAL', 'maybe', /CORS_CREDENTIAL must be boolean/],
  ['ALERT_MESSAGE', '   ', /ALERT_MESSAGE must match pattern/]
]

for (const [name, value, message] of invalid) {
  t.test(`${name}=${JSON.stringify(value)} stops start-up with a message naming it`, async (t) => {
    await t.rejects(build(t, { [name]: value }), message)
  })
}

t.test('commaList trims and drops empty items', async (t) => {
  t.same(commaList(' GET, POST ,,'), ['GET', 'POST'])
  t.same(commaList(''), [])
})
