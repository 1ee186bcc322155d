import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { TRANSPORTS } from '../core/fanout'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus registry of this instance (one per app, so tests and several apps in one process do not share counters). */
    metrics: Registry
  }
}

export default fp(async function metrics (fastify) {
  const { broadcaster, publisher } = fastify
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  registry.registerMetric(new Gauge({
    name: 'alert_server_websocket_connections',
    help: 'Open WebSocket connections',
    registers: [],
    collect () { this.set(broadcaster.count('websocket')) }
  }))
  registry.registerMetric(new Gauge({
    name: 'alert_server_subscribers',
    help: 'Open subscribers, by transport (websocket, sse, ndjson)',
    labelNames: ['transport'],
    registers: [],
    collect () {
      for (const transport of TRANSPORTS) this.set({ transport }, broadcaster.count(transport))
    }
  }))
  const published = new Counter({
    name: 'alert_server_events_published_total',
    help: 'Events published, by type',
    labelNames: ['type'],
    registers: [registry]
  })
  const dropped = new Counter({
    name: 'alert_server_clients_dropped_total',
    help: 'Subscribers (WebSockets and GET /events streams) cut by the server, by reason (slow, heartbeat, replay_failed, invalid_frames)',
    labelNames: ['reason'],
    registers: [registry]
  })
  registry.registerMetric(new Counter({
    name: 'alert_server_alerts_evicted_total',
    help: 'Alerts dropped while not resolved because OPEN_ALERTS_MAX was reached',
    registers: [],
    collect () { this.reset(); this.inc(fastify.evictedAlerts.count) }
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
  // All known so the series exist (at 0) before the first event.
  for (const type of ['alert', 'chat', 'alert_update']) published.inc({ type }, 0)
  for (const reason of ['slow', 'heartbeat', 'replay_failed', 'invalid_frames']) dropped.inc({ reason }, 0)

  const publishedByType = { alert: published.labels('alert'), chat: published.labels('chat'), alert_update: published.labels('alert_update') }
  publisher.onPublish((event) => publishedByType[event.type].inc())
  broadcaster.onFlush((seconds) => broadcastSeconds.observe(seconds))
  broadcaster.onDrop((reason) => dropped.labels(reason).inc())

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
}, { name: 'metrics', fastify: '5.x', dependencies: ['broadcaster', 'publisher'] })
