import type { Redis } from 'ioredis'
import type { HeartbeatMonitor, HeartbeatSettings, HeartbeatStore } from '../backend'
import { guard } from './connection'
import type { RedisKeys } from './keys'
import { heartbeatMissCall, heartbeatPingCall, heartbeatReadCall, scriptArgs } from './scripts'

/** Heartbeat monitors shared through Redis, with no expiry: they outlive restarts. Each step is one script, so none can come between a check and its change. */
export function createRedisHeartbeats (command: Redis, keys: RedisKeys): HeartbeatStore {
  async function readMonitors (mode: 'all' | 'one' | 'remove', name = ''): Promise<HeartbeatMonitor[]> {
    const reply = await guard(command.heartbeatRead(...scriptArgs(heartbeatReadCall(keys, mode, name))), mode === 'remove')
    const out: HeartbeatMonitor[] = []
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const monitor: HeartbeatMonitor = { name: String(reply[i]), ...JSON.parse(String(reply[i + 1])) as HeartbeatSettings, lastPing: Number(reply[i + 2]) }
      if (reply[i + 3] !== '') monitor.missed = Number(reply[i + 3])
      out.push(monitor)
    }
    return out.sort((a, b) => a.name < b.name ? -1 : 1)
  }

  return {
    async ping (name, { everyMs, graceMs, severity, location }, at) {
      // Known fields only, so that what is stored is what the settings say.
      const json = JSON.stringify({ everyMs, graceMs, severity, location })
      const wasMissed = await guard(command.heartbeatPing(...scriptArgs(heartbeatPingCall(keys, name, json, at))), true)
      return { monitor: { name, everyMs, graceMs, severity, location, lastPing: at }, wasMissed: wasMissed === 1 }
    },
    async get (name) {
      return (await readMonitors('one', name))[0]
    },
    async list () {
      return await readMonitors('all')
    },
    async remove (name) {
      return (await readMonitors('remove', name))[0]
    },
    async claimMiss (name, lastPing) {
      return await guard(command.heartbeatMiss(...scriptArgs(heartbeatMissCall(keys, name, lastPing))), true) === 1
    }
  }
}
