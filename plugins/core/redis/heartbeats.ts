import type { Redis } from 'ioredis'
import type { HeartbeatMonitor, HeartbeatPing, HeartbeatSettings, HeartbeatStore } from '../backend'
import { HeartbeatsFullError } from '../errors'
import { HEARTBEAT_PINGS_KEPT } from '../heartbeat-pings'
import { guard } from './connection'
import type { RedisKeys } from './keys'
import { heartbeatMissCall, heartbeatPingCall, heartbeatReadCall, scriptArgs, type HeartbeatReadMode } from './scripts'

/** The settings as stored: known fields only, so that what is stored is what the settings say. */
function settingsJson ({ everyMs, graceMs, severity, location, schedule, tz }: HeartbeatSettings): string {
  return JSON.stringify({ everyMs, graceMs, severity, location, ...(schedule === undefined ? {} : { schedule, tz }) })
}

/** Heartbeat monitors shared through Redis, with no expiry: they outlive restarts. Each step is one script, so none can come between a check and its change. */
export function createRedisHeartbeats (command: Redis, keys: RedisKeys): HeartbeatStore {
  async function read (mode: HeartbeatReadMode, name = '', now = 0): Promise<string[]> {
    return await guard(command.heartbeatRead(...scriptArgs(heartbeatReadCall(keys, mode, name, now))), mode === 'remove' || mode === 'index')
  }

  async function readMonitors (mode: 'all' | 'one' | 'remove' | 'due', name = '', now = 0): Promise<HeartbeatMonitor[]> {
    const reply = await read(mode, name, now)
    const out: HeartbeatMonitor[] = []
    for (let i = 0; i + 5 < reply.length; i += 6) {
      const settings = JSON.parse(String(reply[i + 1])) as HeartbeatSettings
      const lastPing = Number(reply[i + 2])
      // A monitor stored before deadlines were: its deadline is its last ping plus every and grace, as it was then.
      const deadline = reply[i + 4] === '' ? lastPing + settings.everyMs + settings.graceMs : Number(reply[i + 4])
      const monitor: HeartbeatMonitor = { name: String(reply[i]), ...settings, lastPing, deadline }
      if (reply[i + 3] !== '') monitor.missed = Number(reply[i + 3])
      if (reply[i + 5] !== '') monitor.startedAt = Number(reply[i + 5])
      out.push(monitor)
    }
    return mode === 'due' ? out : out.sort((a, b) => a.name < b.name ? -1 : 1)
  }

  // Monitors stored by a version without the due index are put into it before this process's first check or count.
  let indexed: Promise<unknown> | undefined
  async function index (): Promise<void> {
    indexed ??= read('index').catch((err: unknown) => { indexed = undefined; throw err })
    await indexed
  }

  return {
    async ping (name, settings, { ping, deadline, max }) {
      const [status, startedAt, missed] = await guard(command.heartbeatPing(...scriptArgs(heartbeatPingCall(keys, name, {
        settingsJson: settingsJson(settings), at: ping.at, kind: ping.kind, deadline, max, pingJson: JSON.stringify(ping), kept: HEARTBEAT_PINGS_KEPT
      }))), true)
      if (status === -1) throw new HeartbeatsFullError(`there are ${max} heartbeat monitors, the most allowed (HEARTBEATS_MAX); remove one first`)
      const recorded: HeartbeatPing = { ...ping }
      const monitor: HeartbeatMonitor = { name, ...settings, lastPing: ping.at, deadline }
      if (ping.kind === 'start') monitor.startedAt = ping.at
      else if (startedAt !== '') recorded.durationMs = Math.max(0, ping.at - Number(startedAt))
      if (missed !== '') monitor.missed = Number(missed)
      return { monitor, wasMissed: status === 1, ping: recorded }
    },
    async get (name) {
      return (await readMonitors('one', name))[0]
    },
    async pings (name) {
      return (await read('pings', name)).map((json) => JSON.parse(json) as HeartbeatPing)
    },
    async list () {
      return await readMonitors('all')
    },
    async due (now) {
      await index()
      return await readMonitors('due', '', now)
    },
    async count (now) {
      await index()
      const [total, missed, due] = (await read('count', '', now)).map(Number) as [number, number, number]
      return { total, missed: missed + due }
    },
    async remove (name) {
      return (await readMonitors('remove', name))[0]
    },
    async claimMiss (name, lastPing) {
      return await guard(command.heartbeatMiss(...scriptArgs(heartbeatMissCall(keys, name, lastPing))), true) === 1
    }
  }
}
