import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { redisKeys } from '../plugins/core/redis/keys'
import {
  appendCall, heartbeatMissCall, INCLUDED_FILES, heartbeatPingCall, heartbeatReadCall, loadScripts, outboxClaimCall, outboxRecentCall, outboxSettleCall,
  outboxWriteCall, rangeCall, readAlertsCall, scriptArgs, SCRIPT_FILES, scriptText, type ScriptCall
} from '../plugins/core/redis/scripts'

// Each Lua script names its inputs once, at its top (`local history = KEYS[2]`);
// its typed helper builds them by the same names, in the same order. These
// hold the two together: a script and its helper cannot drift apart unseen.

const dir = join(__dirname, '..', 'plugins', 'core', 'redis')
const keys = redisKeys('test:')

/** The names a script gives its KEYS and ARGV, by index, and every other place it reads them by number. */
function inputsOf (lua: string): { keys: string[], argv: string[], positional: string[] } {
  const named = { KEYS: [] as string[], ARGV: [] as string[] }
  const positional: string[] = []
  for (const line of lua.split('\n')) {
    const declared = /^local (\w+) = (?:tonumber\()?(KEYS|ARGV)\[(\d+)\]\)?/.exec(line)
    if (declared !== null) {
      const list = named[declared[2] as 'KEYS' | 'ARGV']
      if (Number(declared[3]) !== list.length + 1) positional.push(`${line} (out of order)`)
      list.push(declared[1] as string)
      const rest = line.slice(declared[0].length)
      if (/\b(KEYS|ARGV)\[/.test(rest)) positional.push(line)
    } else if (/\b(KEYS|ARGV)\[/.test(line.replace(/--.*$/, ''))) {
      positional.push(line)
    }
  }
  return { keys: named.KEYS, argv: named.ARGV, positional }
}

const calls: Record<keyof typeof SCRIPT_FILES, ScriptCall> = {
  appendEvent: appendCall(keys, {
    id: 'e1',
    json: '{}',
    stream: 'alert',
    expect: { kind: 'rev', alertId: 'a1', rev: 'e0' },
    alert: { id: 'a1', json: '{}', state: 'open', severity: 'critical', key: 'k' },
    once: { key: 'i', ttlMs: 1000 },
    historySize: 10,
    openAlertsMax: 100,
    notify: { drafts: [{ id: 'd1', receiver: 'hook', kind: 'raised' }], silencesSeen: '3', createdAt: 5 }
  }),
  readAlerts: readAlertsCall(keys, 'newest', '5', keys.raised, '+inf'),
  eventRange: rangeCall(keys, 'seq', '7'),
  heartbeatPing: heartbeatPingCall(keys, 'cron', { settingsJson: '{}', at: 5, kind: 'success', deadline: 10, max: 1000, pingJson: '{}', kept: 100 }),
  heartbeatMiss: heartbeatMissCall(keys, 'cron', 5),
  heartbeatRead: heartbeatReadCall(keys, 'one', 'cron'),
  outboxWrite: outboxWriteCall(keys, '{}', 'a1', [{ id: 'd1', receiver: 'hook', kind: 'reminder', groupMs: 1000 }], 5),
  outboxClaim: outboxClaimCall(keys, 'group', 'hook', 5, 1000, 10),
  outboxSettle: outboxSettleCall(keys, 'd1', 5, { attempt: { deliveryId: 'd1', alertId: 'a1', eventId: 'e1', receiver: 'hook', kind: 'raised', attempt: 1, at: 5, result: 'retrying', status: 500 }, retryAt: 10 },
    { attemptsPerAlert: 1, attemptedMax: 1, finishedMax: 1 }),
  outboxRecent: outboxRecentCall(keys, 'hook', 'pending', 10)
}

t.test('every script names each input, and its helper builds them by those names, in that order', async (t) => {
  for (const [name, file] of Object.entries(SCRIPT_FILES) as Array<[keyof typeof SCRIPT_FILES, string]>) {
    const inputs = inputsOf(readFileSync(join(dir, file), 'utf8'))
    t.same(inputs.positional, [], `${file}: KEYS and ARGV are read only where they are named, in order`)
    t.same(Object.keys(calls[name].keys), inputs.keys, `${file}: the keys of ${name}'s helper`)
    t.same(Object.keys(calls[name].argv), inputs.argv, `${file}: the arguments of ${name}'s helper`)
  }
})

t.test('the arguments of a call: the number of keys, the keys, then the arguments', async (t) => {
  t.same(scriptArgs(heartbeatMissCall(keys, 'cron', 5)), [4, 'test:heartbeats', 'test:heartbeats:last', 'test:heartbeats:missed', 'test:heartbeats:due', 'cron', '5'])
  const append = scriptArgs(calls.appendEvent)
  t.equal(append[0], 21)
  t.equal(append.length, 1 + 21 + 17)
})

t.test('every .lua file of plugins/core/redis is a script that is loaded, or included into one', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua')).sort()
  t.same([...Object.values(SCRIPT_FILES), ...INCLUDED_FILES].sort(), files)
  const loaded = loadScripts()
  for (const [name, file] of Object.entries(SCRIPT_FILES) as Array<[keyof typeof SCRIPT_FILES, string]>) {
    t.equal(loaded[name].lua, scriptText(dir, file), file)
    t.notMatch(loaded[name].lua, /^-- include /m, `${file}: every include replaced`)
  }
  for (const name of ['appendEvent', 'outboxWrite'] as const) {
    t.match(loaded[name].lua, readFileSync(join(dir, 'outbox-entries.lua'), 'utf8'), `${name} writes outbox entries with the included function`)
  }
})
