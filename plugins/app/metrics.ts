import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { SEVERITIES } from '../../schemas/events'
import { HEARTBEAT_STATES, type HeartbeatState } from '../core/heartbeats'
import { TRANSPORTS } from '../core/fanout'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus registry of this instance (one per app, so tests and several apps in one process do not share counters). */
    metrics: Registry
  }
}

export default fp(async function metrics (fastify) {
  const { fanout, publisher } = fastify
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // prom-client's sums of these are gauges named _total, which promtool's lint
  // refuses (only counters end in _total); the per-type gauges stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)

  registry.registerMetric(new Gauge({
    name: 'alert_server_websocket_connections',
    help: 'Open WebSocket connections',
    registers: [],
    collect () { this.set(fanout.count('websocket')) }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_subscribers',
    help: 'Open subscribers, by transport (websocket, sse, ndjson)',
    labelNames: ['transport'],
    registers: [],
    collect () {
      for (const transport of TRANSPORTS) this.set({ transport }, fanout.count(transport))
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_replays',
    help: 'Replays (?since=) under way, and of those the ones waiting for their client to read (state: running, waiting)',
    labelNames: ['state'],
    registers: [],
    collect () {
      const { running, waiting } = fanout.replays()
      this.set({ state: 'running' }, running)
      this.set({ state: 'waiting' }, waiting)
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_replay_held_bytes',
    help: 'Bytes held for subscribers whose replay is under way: pages read and not yet written, live events held, what their sockets have not sent',
    registers: [],
    collect () { this.set(fanout.replays().heldBytes) }
  }))
  const published = new Counter({
    name: 'alert_server_events_published_total',
    help: 'Events published, by type',
    labelNames: ['type'],
    registers: [registry]
  })
  const dropped = new Counter({
    name: 'alert_server_clients_dropped_total',
    help: 'Subscribers (WebSockets and GET /events streams) cut by the server, by reason (slow, heartbeat, replay_failed, invalid_frames, revoked, expired, unsubscribed)',
    labelNames: ['reason'],
    registers: [registry]
  })
  registry.registerMetric(new Counter({
    name: 'alert_server_alerts_evicted_total',
    help: 'Alerts dropped while not resolved because OPEN_ALERTS_MAX was reached',
    registers: [],
    collect () { this.reset(); this.inc(fastify.evictedAlerts.count) }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_idempotency_keys',
    help: 'Idempotency keys held in memory (memory mode; with Redis they are Redis keys with a TTL)',
    registers: [],
    collect () { this.set(fastify.idempotencyKeys.held) }
  }))
  registry.registerMetric(new Counter({
    name: 'alert_server_idempotency_keys_dropped_total',
    help: 'Idempotency keys forgotten before their TTL because IDEMPOTENCY_KEYS_MAX or IDEMPOTENCY_KEYS_PER_CLIENT was reached (memory mode)',
    registers: [],
    collect () { this.reset(); this.inc(fastify.idempotencyKeys.dropped) }
  }))
  // Read from the backend at each scrape, so every instance of a cluster
  // reports the cluster's alerts and monitors. While the backend cannot be
  // read, the last values stay (a scrape never fails for it).
  const { store, heartbeats } = fastify.backend
  registry.registerMetric(new Gauge({
    name: 'alert_server_open_alerts',
    help: 'Alerts that are not resolved, by severity and state (open, acknowledged)',
    labelNames: ['severity', 'state'],
    registers: [],
    async collect () {
      const alerts = await store.alerts({ unresolved: true }).catch(() => undefined)
      if (alerts === undefined) return
      for (const severity of SEVERITIES) for (const state of ['open', 'acknowledged']) this.set({ severity, state }, 0)
      for (const { alert } of alerts) this.inc({ severity: alert.severity, state: alert.state })
    }
  }))
  new Gauge({
    name: 'alert_server_open_alerts_limit',
    help: 'OPEN_ALERTS_MAX: alerts that are not resolved kept at most; with alert_server_open_alerts, how full the board is',
    registers: [registry]
  }).set(fastify.config.OPEN_ALERTS_MAX)
  registry.registerMetric(new Gauge({
    name: 'alert_server_heartbeat_monitors',
    help: 'Heartbeat monitors, by state (up; missed: no ping by its deadline, or a failure)',
    labelNames: ['state'],
    registers: [],
    async collect () {
      // Counted by the store (its deadline index), not listed: a scrape costs the same with 20,000 monitors.
      const counts = await heartbeats.count(fastify.timers.now()).catch(() => undefined)
      if (counts === undefined) return
      const byState: Record<HeartbeatState, number> = { up: counts.total - counts.missed, missed: counts.missed }
      for (const state of HEARTBEAT_STATES) this.set({ state }, byState[state])
    }
  }))
  const broadcastSeconds = new Histogram({
    name: 'alert_server_broadcast_duration_seconds',
    help: 'Time to write one batch of events (those published in one event-loop turn) to every local WebSocket client',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry]
  })
  const httpSeconds = new Histogram({
    name: 'alert_server_http_request_duration_seconds',
    help: 'HTTP request durations, by method, route and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry]
  })
  // Notifications: every attempt by receiver and result (delivered, retrying,
  // failed: given up), and the outbox, read at each scrape.
  const notified = new Counter({
    name: 'alert_server_notifications_total',
    help: 'Notification attempts, by receiver and result (delivered; retrying: failed, tried again later; failed: given up)',
    labelNames: ['receiver', 'result'],
    registers: [registry]
  })
  fastify.notifications.onAttempt((attempt) => notified.labels(attempt.receiver, attempt.result).inc())
  const { outbox } = fastify.notifications
  registry.registerMetric(new Gauge({
    name: 'alert_server_notification_outbox_depth',
    help: 'Notifications waiting in the outbox (pending, of every receiver)',
    registers: [],
    async collect () {
      const depth = await outbox.depth().catch(() => undefined)
      if (depth !== undefined) this.set(depth.pending)
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_notification_oldest_pending_seconds',
    help: 'Age of the oldest notification still waiting in the outbox (0 when none is)',
    registers: [],
    async collect () {
      const depth = await outbox.depth().catch(() => undefined)
      if (depth !== undefined) this.set(depth.oldestAt === undefined ? 0 : Math.max(0, (fastify.timers.now() - depth.oldestAt) / 1000))
    }
  }))

  // All known so the series exist (at 0) before the first event.
  for (const type of ['alert', 'chat', 'alert_update']) published.inc({ type }, 0)
  for (const reason of ['slow', 'heartbeat', 'replay_failed', 'invalid_frames']) dropped.inc({ reason }, 0)

  const publishedByType = { alert: published.labels('alert'), chat: published.labels('chat'), alert_update: published.labels('alert_update') }
  publisher.onPublish((event) => publishedByType[event.type].inc())
  fanout.onFlush((seconds) => broadcastSeconds.observe(seconds))
  fanout.onDrop((reason) => dropped.labels(reason).inc())

  // Every response passes here: the labelled child of each (method, route,
  // status) is looked up once and kept, rather than prom-client building and
  // checking the label set on every request. The route pattern, not the raw
  // URL, keeps the set small (and so this map).
  const series = new Map<string, ReturnType<typeof httpSeconds.labels>>()
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unknown'
    const key = `${request.method} ${reply.statusCode} ${route}`
    let child = series.get(key)
    if (child === undefined) {
      child = httpSeconds.labels(request.method, route, String(reply.statusCode))
      series.set(key, child)
    }
    child.observe(reply.elapsedTime / 1000)
    done()
  })

  fastify.decorate('metrics', registry)
}, { name: 'metrics', fastify: '5.x', dependencies: ['fanout', 'publisher', 'backend', 'timers', 'notifications'] })
