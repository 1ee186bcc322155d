/**
 * NOTIFY_FILE's recurring maintenance windows (`time_intervals`, and a
 * route's `mute_time_intervals`): read with the line of each problem,
 * evaluated on the wall clock of their zone (across a daylight-saving
 * change), and end to end with an injected clock and a real receiver.
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseNotifyConfig, routeMuted, type NotifyConfig } from '../plugins/core/notify-config'
import { remindersDue, routeEvent } from '../plugins/core/notify-messages'
import { inInterval, minutesOf, rangeOf, wallClock, WEEKDAYS } from '../plugins/core/time-intervals'
import { stamp } from '../plugins/core/publisher'
import { build } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { postAlert } from './helpers/http'
import { httpReceiver } from './helpers/receivers'
import { waitFor } from './helpers/wait'

const parse = (text: string): NotifyConfig | string => parseNotifyConfig(text, 'notify.yml', { env: {}, smtp: false })
const at = (iso: string): number => Date.parse(iso)

const BERLIN = `
receivers:
  hook: { webhook: { url: "http://127.0.0.1:9/hook" } }
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{ start_time: '09:00', end_time: '17:00' }]
        location: Europe/Berlin
  - name: month-end
    time_intervals:
      - days_of_month: ['-2:-1']
        months: [january, 'march:april', '12']
routes:
  - to: hook
    mute_time_intervals: [office-hours]
  - to: hook
    mute_time_intervals: month-end
`

t.test('an interval is read on the wall clock of its zone, across a daylight-saving change', async (t) => {
  const config = parse(BERLIN)
  if (typeof config === 'string') throw new Error(config)
  const [office, monthEnd] = config.routes
  if (office === undefined || monthEnd === undefined) throw new Error('two routes')
  // Europe/Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29 at 01:00 UTC.
  t.ok(routeMuted(config, office, at('2026-03-27T08:30:00Z')), 'Friday 09:30 CET: muted')
  t.notOk(routeMuted(config, office, at('2026-03-27T07:30:00Z')), 'Friday 08:30 CET: not yet')
  t.ok(routeMuted(config, office, at('2026-03-27T15:30:00Z')), 'Friday 16:30 CET: muted')
  t.ok(routeMuted(config, office, at('2026-03-30T07:30:00Z')), 'Monday 09:30 CEST (07:30 UTC): muted after the change')
  t.notOk(routeMuted(config, office, at('2026-03-30T06:30:00Z')), 'Monday 08:30 CEST: not yet')
  t.notOk(routeMuted(config, office, at('2026-03-30T15:30:00Z')), 'Monday 17:30 CEST (15:30 UTC, muted the Friday before): the end is exclusive')
  t.notOk(routeMuted(config, office, at('2026-03-28T10:00:00Z')), 'Saturday: not a weekday of it')
  t.same(wallClock(at('2026-03-29T00:30:00Z'), 'Europe/Berlin'), { weekday: 0, day: 29, month: 3, year: 2026, minutes: 90 })
  t.same(wallClock(at('2026-03-29T01:30:00Z'), 'Europe/Berlin'), { weekday: 0, day: 29, month: 3, year: 2026, minutes: 210 }, 'an hour later by UTC, two by the wall clock')
  const night = { times: [[120, 180]] as Array<[number, number]>, location: 'Europe/Berlin' }
  t.notOk(inInterval(night, at('2026-03-29T00:59:00Z')), '01:59 CET')
  t.notOk(inInterval(night, at('2026-03-29T01:00:00Z')), '02:00 to 03:00 does not exist that night')
  t.ok(inInterval(night, at('2026-10-25T00:30:00Z')), 'and happens twice in October: 02:30 CEST')
  t.ok(inInterval(night, at('2026-10-25T01:30:00Z')), '02:30 CET')

  // Days of the month from its end, months by name, number and range; UTC by default.
  t.ok(routeMuted(config, monthEnd, at('2026-01-31T12:00:00Z')), 'the last day of January')
  t.ok(routeMuted(config, monthEnd, at('2026-04-29T00:00:00Z')), 'the day before the last of April (30 days)')
  t.notOk(routeMuted(config, monthEnd, at('2026-04-28T23:59:00Z')))
  t.ok(routeMuted(config, monthEnd, at('2024-12-30T00:00:00Z')))
  t.notOk(routeMuted(config, monthEnd, at('2026-02-28T12:00:00Z')), 'February is not one of its months')
  t.ok(inInterval({ daysOfMonth: [[27, -1]], location: 'UTC' }, at('2026-02-28T00:00:00Z')), '27:-1 runs to the last day')
})

t.test('routing and reminders skip a muted route: dropped while muted, as Alertmanager does; a reminder waits for the window\'s end', async (t) => {
  const config = parse(`
receivers:
  a: { webhook: { url: "http://127.0.0.1:9/a" } }
  b: { webhook: { url: "http://127.0.0.1:9/b" } }
time_intervals:
  - name: nights
    time_intervals: [{ times: [{ start_time: '22:00', end_time: '24:00' }, { start_time: '00:00', end_time: '06:00' }] }]
routes:
  - to: a
    repeat: 1h
    mute_time_intervals: [nights]
  - to: b
`)
  if (typeof config === 'string') throw new Error(config)
  const alert = { ...stamp({ type: 'alert', message: 'm', location: 'l' }), timestamp: '2026-01-05T20:00:00.000Z' }
  t.same(routeEvent(config, alert, randomUUID, undefined, at('2026-01-05T23:00:00Z')).map((d) => d.receiver), ['b'], 'at night: only the unmuted route')
  t.same(routeEvent(config, alert, randomUUID, undefined, at('2026-01-05T12:00:00Z')).map((d) => d.receiver), ['a', 'b'], 'by day: both')
  const told = new Map<string, number>()
  t.same(remindersDue(config, [alert], at('2026-01-05T23:00:00Z'), told, () => false).due, [], 'no reminder at night')
  t.equal(told.size, 0, 'and none counted as sent')
  t.same(remindersDue(config, [alert], at('2026-01-06T06:00:00Z'), told, () => false).due.map((d) => d.receivers), [['a']], 'the first check after the window reminds')
})

t.test('problems of time_intervals name their line', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['an unknown interval on a route', 'time_intervals:\n  - name: a\n    time_intervals: [{ weekdays: [monday] }]\nroutes:\n  - to: hook\n    mute_time_intervals: [b]\n', /^notify\.yml:8: routes\[0\]\.mute_time_intervals names "b", which is not one of the time_intervals$/],
    ['no time_intervals at all', 'routes:\n  - to: hook\n    mute_time_intervals: weekend\n', /^notify\.yml:5: .*names "weekend"/],
    ['a bad zone', 'time_intervals:\n  - name: a\n    time_intervals:\n      - location: Mars/Olympus\n', /^notify\.yml:6: time_intervals\[0\]\.time_intervals\[0\]\.location "Mars\/Olympus" is not a time zone/],
    ['a backwards weekday range', 'time_intervals:\n  - name: a\n    time_intervals:\n      - weekdays: ["friday:monday"]\n', /^notify\.yml:6: .*weekdays: "friday:monday" is not a value or a range such as monday:friday/],
    ['a bad time', 'time_intervals:\n  - name: a\n    time_intervals:\n      - times: [{ start_time: "9am", end_time: "17:00" }]\n', /^notify\.yml:6: .*times\[0\]\.start_time must be a time HH:MM/],
    ['across midnight', 'time_intervals:\n  - name: a\n    time_intervals:\n      - times:\n          - { start_time: "22:00", end_time: "06:00" }\n', /^notify\.yml:7: .*must end after it starts/],
    ['a missing end', 'time_intervals:\n  - name: a\n    time_intervals:\n      - times: [{ start_time: "09:00" }]\n', /needs end_time/],
    ['an unknown field', 'time_intervals:\n  - name: a\n    time_intervals:\n      - hours: [1]\n', /^notify\.yml:6: .*unknown field "hours": an interval takes times, weekdays, days_of_month, months, location/],
    ['an unknown field of a time', 'time_intervals:\n  - name: a\n    time_intervals:\n      - times: [{ start: "09:00" }]\n', /unknown field "start": it takes start_time, end_time/],
    ['times not a list', 'time_intervals:\n  - name: a\n    time_intervals:\n      - times: "09:00"\n', /times must be a list/],
    ['a name twice', 'time_intervals:\n  - name: a\n    time_intervals: [{}]\n  - name: a\n    time_intervals: [{}]\n', /^notify\.yml:6: time_intervals\[1\] names "a" again/],
    ['no name', 'time_intervals:\n  - time_intervals: [{}]\n', /time_intervals\[0\] needs name/],
    ['a bad name', 'time_intervals:\n  - name: "a b"\n    time_intervals: [{}]\n', /name must be letters/],
    ['no intervals', 'time_intervals:\n  - name: a\n', /time_intervals\[0\]\.time_intervals must be a list of at least one interval/],
    ['an unknown field of a named interval', 'time_intervals:\n  - name: a\n    intervals: []\n', /unknown field "intervals": it takes name, time_intervals/],
    ['not a list', 'time_intervals: {}\n', /time_intervals must be a list/],
    ['day 0', 'time_intervals:\n  - name: a\n    time_intervals: [{ days_of_month: ["0"] }]\n', /days_of_month: "0" is not a value or a range/],
    ['month 13', 'time_intervals:\n  - name: a\n    time_intervals: [{ months: ["13"] }]\n', /months: "13"/],
    ['a range of three', 'time_intervals:\n  - name: a\n    time_intervals: [{ months: ["1:2:3"] }]\n', /months: "1:2:3"/],
    ['from the end to a day', 'time_intervals:\n  - name: a\n    time_intervals: [{ days_of_month: ["-3:5"] }]\n', /days_of_month: "-3:5"/]
  ]
  for (const [name, body, expected] of cases) {
    t.match(parse(`receivers:\n  hook: { webhook: { url: "http://127.0.0.1:9/" } }\n${body}`), expected, name)
  }
  t.equal(minutesOf('24:00'), 1440)
  t.equal(minutesOf('24:01'), undefined)
  t.same(rangeOf('Saturday', WEEKDAYS, 0, 1, 0), [6, 6], 'names in any case')
  t.equal(rangeOf('3', WEEKDAYS, 0, 1, 0), undefined, 'weekdays by name only')
})

t.test('end to end: an alert raised in the window is not notified, one raised after it is', async (t) => {
  const hook = await httpReceiver(t)
  const dir = mkdtempSync(join(tmpdir(), 'alert-intervals-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'notify.yml')
  // The mock clock starts on Tuesday 2023-11-14 at 22:13:20 UTC.
  writeFileSync(file, `
receivers:
  hook: { webhook: { url: "${hook.url}/hook" } }
time_intervals:
  - name: tuesday-night
    time_intervals:
      - weekdays: [tuesday]
        times: [{ start_time: '22:00', end_time: '23:00' }]
routes:
  - to: hook
    mute_time_intervals: [tuesday-night]
`)
  const { clock, timers } = mockTimers()
  const fastify = await build(t, { NOTIFY_FILE: file }, { timers })
  const muted = (await postAlert(fastify, { message: 'in the window', location: 'db1' })).json()
  t.same((await fastify.inject({ url: '/notifications' })).json().deliveries, [], 'no notification written in the window')
  clock.advance(47 * 60_000)
  const told = (await postAlert(fastify, { message: 'after the window', location: 'db1' })).json()
  await waitFor(() => hook.requests.length >= 1)
  await fastify.notifications.sender.idle()
  t.equal(hook.requests.length, 1)
  t.match(hook.requests[0]?.body, told.id)
  t.notMatch(hook.requests.map((r) => r.body).join(), muted.id, 'the alert of the window is dropped, not sent when it ends')
})
