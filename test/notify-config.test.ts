/**
 * NOTIFY_FILE's format: the example as written, ${VAR} from the
 * environment, and every bad file refused with one line naming the file,
 * the line and the problem, never a secret.
 */
/* eslint-disable no-template-curly-in-string -- ${VAR} is NOTIFY_FILE's own syntax */
import t from 'tap'
import { parseNotifyConfig, scrub } from '../plugins/core/notify-config'
import { routeEvent } from '../plugins/core/notify-messages'
import { stamp } from '../plugins/core/publisher'
import type { AlertUpdate } from '../schemas/events'

const env = { TOKEN_WITH_A_BREAK: 'tk_abc\n', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/secretpart', NTFY_TOKEN: 'tk_abcdef123456', HOOK_SECRET: 'hmac-secret-xyz' }
const parse = (text: string, smtp = true): ReturnType<typeof parseNotifyConfig> => parseNotifyConfig(text, '/etc/notify.yml', { env, smtp })

const EXAMPLE = `
receivers:
  ops-chat:  { slack: { url: "\${SLACK_WEBHOOK_URL}" } }
  on-call:   { email: { to: [oncall@example.com] } }
  phone:     { ntfy: { url: "https://ntfy.example.com/ops-alerts", token: "\${NTFY_TOKEN}" } }
  ticketing: { webhook: { url: "https://tickets.example.com/hook", secret: "\${HOOK_SECRET}" } }
routes:
  - match: { min_severity: critical }       # the same filter words as /ws, /events and GET /alerts
    on: [raised, escalated, resolved]       # also: repeated, acknowledged
    to: [ops-chat, phone]
    repeat: 1h                              # again while open and not acknowledged
  - match: { tag: database }
    to: [on-call]
    group: 30s                              # alerts matched within 30 s go out as one message
`

t.test('the documented example reads as written', async (t) => {
  const config = parse(EXAMPLE)
  if (typeof config === 'string') throw new Error(config)
  t.same([...config.receivers.values()], [
    { name: 'ops-chat', kind: 'slack', url: env.SLACK_WEBHOOK_URL },
    { name: 'on-call', kind: 'email', to: ['oncall@example.com'] },
    { name: 'phone', kind: 'ntfy', url: 'https://ntfy.example.com/ops-alerts', token: env.NTFY_TOKEN },
    { name: 'ticketing', kind: 'webhook', url: 'https://tickets.example.com/hook', secret: env.HOOK_SECRET }
  ])
  t.equal(config.routes.length, 2)
  t.same([...config.routes[0]?.on ?? []], ['raised', 'escalated', 'resolved'])
  t.same(config.routes[0]?.to, ['ops-chat', 'phone'])
  t.equal(config.routes[0]?.repeatMs, 3_600_000)
  t.same([...config.routes[1]?.on ?? []], ['raised', 'escalated', 'acknowledged', 'resolved'], 'no `on`: every change but repeats')
  t.equal(config.routes[1]?.groupMs, 30_000)
  for (const secret of [env.SLACK_WEBHOOK_URL, env.NTFY_TOKEN, env.HOOK_SECRET, 'https://ntfy.example.com/ops-alerts', 'https://tickets.example.com/hook']) t.ok(config.secrets.includes(secret))
  t.equal(scrub(`posting to ${env.SLACK_WEBHOOK_URL} failed`, config.secrets), 'posting to [redacted] failed')
  t.same(parse('{"receivers": {"h": {"webhook": {"url": "http://h"}}}, "routes": [{"to": "h"}]}'), { receivers: new Map([['h', { name: 'h', kind: 'webhook', url: 'http://h' }]]), routes: [{ filter: {}, on: new Set(['raised', 'escalated', 'acknowledged', 'resolved']), to: ['h'] }], timeIntervals: new Map(), secrets: ['http://h'] }, 'JSON is YAML too')
  t.same(parse(''), { receivers: new Map(), routes: [], timeIntervals: new Map(), secrets: [] }, 'an empty file notifies nobody')
})

t.test('routes match with the filter words and the event kind; a receiver is told once per event', async (t) => {
  const config = parse(EXAMPLE)
  if (typeof config === 'string') throw new Error(config)
  let n = 0
  const id = (): string => `d${++n}`
  const critical = stamp({ type: 'alert', message: 'm', location: 'l', severity: 'critical', tags: ['database'] })
  t.same(routeEvent(config, critical, id).map((d) => [d.receiver, d.kind]), [['ops-chat', 'raised'], ['phone', 'raised'], ['on-call', 'raised']])
  const warning = stamp({ type: 'alert', message: 'm', location: 'l', severity: 'warning' })
  t.same(routeEvent(config, warning, id), [])
  const acked: AlertUpdate = { id: 'e', timestamp: critical.timestamp, type: 'alert_update', change: 'acknowledged', alert: { ...critical, state: 'acknowledged' }, by: 'ana' }
  t.same(routeEvent(config, acked, id).map((d) => d.receiver), ['on-call'], 'the first route does not send acknowledged')
  t.same(routeEvent(config, stamp({ type: 'chat', sender: 's', message: 'm' }), id), [])
  const twice = parse('receivers: { h: { webhook: { url: "http://h" } } }\nroutes: [{ to: [h] }, { to: h, on: [raised] }]')
  if (typeof twice === 'string') throw new Error(twice)
  t.equal(routeEvent(twice, critical, id).length, 1)
})

t.test('bad files: one line with the file, the line and the problem', async (t) => {
  const cases: Array<[string, string, boolean?]> = [
    ['receivers: [a\n', '/etc/notify.yml:2: not valid YAML'],
    ['receiver: {}\n', '/etc/notify.yml:1: unknown key "receiver": the file has receivers, routes and time_intervals'],
    ['receivers:\n  x: { pager: { url: "http://x" } }\n', '/etc/notify.yml:2: receiver x has unknown kind "pager": one of webhook, slack, ntfy, email'],
    ['receivers:\n  x: { webhook: {} }\n', '/etc/notify.yml:2: receiver x (webhook) needs url'],
    ['receivers:\n  x:\n    webhook:\n      url: "ftp://x"\n', '/etc/notify.yml:4: receiver x url must be an http:// or https:// URL'],
    ['receivers:\n  x: { webhook: { url: "http://x", secrte: "s" } }\n', '/etc/notify.yml:2: receiver x (webhook) has unknown field "secrte": it takes url, secret'],
    ['receivers:\n  x: { slack: { url: "${NOT_SET_ANYWHERE}" } }\n', '/etc/notify.yml:2: receiver x url uses ${NOT_SET_ANYWHERE}, which is not set in the environment'],
    ['receivers:\n  x: { email: { to: [ops@example.com] } }\n', '/etc/notify.yml:2: receiver x is an email receiver, but SMTP_URL is not set', false],
    ['receivers:\n  x: { email: { to: [nobody] } }\n', '/etc/notify.yml:2: receiver x to must be e-mail addresses (name@host)'],
    ['receivers:\n  "a b": { slack: { url: "http://x" } }\n', '/etc/notify.yml:2: receiver name "a b" must be letters, digits, - _ . (64 at most)'],
    ['routes:\n  - match: { severity: high }\n    to: []\n', '/etc/notify.yml:2: routes[0].match: severity must be a comma list of info, warning, critical; got "high"'],
    ['receivers: { x: { slack: { url: "http://x" } } }\nroutes:\n  - to: [x]\n    on: [fired]\n', '/etc/notify.yml:4: routes[0].on must list only raised, repeated, escalated, acknowledged, resolved; got "fired"'],
    ['receivers: { x: { slack: { url: "http://x" } } }\nroutes:\n  - to: [x]\n    repeat: 1 hour\n', '/etc/notify.yml:4: routes[0].repeat must be a duration such as 30s, 10m, 1h'],
    ['receivers: { x: { slack: { url: "http://x" } } }\nroutes:\n  - to: [x]\n    matches: {}\n', '/etc/notify.yml:4: routes[0] has unknown field "matches": a route takes match, on, to, repeat, group'],
    ['receivers: { x: { slack: { url: "http://x" } } }\nroutes:\n  - on: [raised]\n', '/etc/notify.yml:3: routes[0] needs to: the receivers it sends to'],
    ['routes: {}\n', '/etc/notify.yml:1: routes must be a list'],
    ['receivers:\n  x: { slack: { url: "http://x" } }\n  x: { slack: { url: "http://y" } }\n', '/etc/notify.yml:3: not valid YAML'],
    ['receivers:\n  x: { ntfy: { url: "http://x", token: "${TOKEN_WITH_A_BREAK}" } }\n', '/etc/notify.yml:2: receiver x token must be visible ASCII characters, without spaces or line breaks']
  ]
  for (const [text, problem, smtp] of cases) {
    const got = parse(text, smtp ?? true)
    t.type(got, 'string', problem)
    t.ok(String(got).startsWith(problem), `${String(got)} starts with ${problem}`)
    t.notOk(String(got).includes('\n'), 'one line')
  }
})

t.test('a URL\'s user and password: accepted, the password a secret too', async (t) => {
  const got = parse('receivers:\n  x: { webhook: { url: "https://bot:p%40ss-9f3e@hooks.example.com/in" } }\n')
  t.not(typeof got, 'string')
  if (typeof got === 'string') return
  t.ok(got.secrets.includes('p@ss-9f3e'), 'the decoded password is scrubbed wherever it shows')
  t.equal(scrub('failed with p@ss-9f3e', got.secrets), 'failed with [redacted]')
})

t.test('a problem never shows a secret, wherever it came from', async (t) => {
  const got = parse('receivers:\n  x: { webhook: { url: "${HOOK_SECRET}" } }\n')
  t.equal(got, '/etc/notify.yml:2: receiver x url must be an http:// or https:// URL')
  const match = parse('routes:\n  - match: { severity: "${HOOK_SECRET}" }\n    to: []\n')
  t.notOk(String(match).includes(env.HOOK_SECRET), String(match))
})
