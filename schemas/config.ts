import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN } from './events'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

// Milliseconds, or a positive number with a unit as @fastify/rate-limit reads
// it (@lukeed/ms): "1 minute", "30 s", "1.5 hours". Zero would disable the window.
const DURATION = '^(?!0*\\.?0* *[a-z]*$)(\\d+(\\.\\d+)?|\\.\\d+) *(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)?$'

const list = (description: string, fallback: string) => Type.String({ default: fallback, description })

export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: 'Listening port.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Listening address; 0.0.0.0 for every interface.' }),
  LOG_LEVEL: Type.Unsafe<string>({ type: 'string', enum: [...LOG_LEVELS], default: 'info', description: 'Least severe level written to the log; silent writes none.' }),
  ALERT_INTERVAL_MS: Type.Integer({ minimum: 0, default: 10000, description: 'Period of the automatic alert, in milliseconds; 0 turns it off.' }),
  ALERT_MESSAGE: Type.String({ minLength: 1, maxLength: 1000, pattern: '\\S', default: 'Intruder detected', description: 'Message of the automatic alert.' }),
  ALERT_LOCATION: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', default: 'North Gate', description: 'Location of the automatic alert.' }),
  ALERT_SEVERITY: Type.Unsafe<'info' | 'warning' | 'critical'>({ type: 'string', enum: ['info', 'warning', 'critical'], default: 'info', description: 'Severity of the automatic alert.' }),
  ALERT_KEY: Type.String({ maxLength: 200, default: '', description: 'When set, the automatic alert repeats as one alert with this key (a growing count) instead of a new alert per tick. Unset, each tick is a new alert with the key ticker and resolves the previous one: one automatic alert open at a time.' }),
  HISTORY_SIZE: Type.Integer({ minimum: 1, maximum: 100000, default: 10, description: 'How many alerts GET /alerts/history and chat messages GET /message return (the newest).' }),
  STORE: Type.Unsafe<'' | 'sqlite' | 'memory' | 'redis'>({ type: 'string', enum: ['', 'sqlite', 'memory', 'redis'], default: '', description: 'Where events are kept: sqlite (a file in DATA_DIR, kept across restarts; the default), memory (nothing kept: tests and throw-away runs) or redis (REDIS_URL, for several instances). Unset: redis when REDIS_URL is set, else sqlite.' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data', description: 'Directory of the SQLite file (alerts.db), created if missing. One server process per directory.' }),
  SQLITE_SYNCHRONOUS: Type.Unsafe<'normal' | 'full'>({ type: 'string', enum: ['normal', 'full'], default: 'normal', description: 'normal: a commit survives a crash of the process, and a power loss can lose the last commits (never half of one); full: every commit is flushed to the disk before it is answered (slower; see docs/operations.md).' }),
  RETENTION: Type.String({ pattern: DURATION_PATTERN, default: '30d', description: 'With STORE=sqlite: resolved alerts with their updates, and chat, older than this are deleted (alerts that are not resolved never are). A duration such as 7d, 12h, 30d.' }),
  REPLAY_WINDOW: Type.Integer({ minimum: 1, maximum: 1000000, default: 1000, description: 'How far back a replay (since=) reaches: the newest events of each stream (alerts with their updates, chat). In memory and Redis it is also what they keep of each stream, and how many resolved alerts they keep.' }),
  OPEN_ALERTS_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: 10000, description: 'Alerts that are not resolved kept at most; past it the oldest open info alert goes first (then warning), with a warning in the log. A critical or acknowledged alert is never dropped, nor one for a less severe alert: a new alert for which none may go (only critical and acknowledged ones are left, or, for an info alert, only warnings and those) is refused with 503 BOARD_FULL, not stored and dropped.' }),
  ESCALATE_AFTER_MS: Type.Integer({ minimum: 0, default: 0, description: 'A critical alert still open (not acknowledged) this long after it was raised or last escalated is announced again; 0 turns it off.' }),
  AM_LOCATION_LABEL: Type.String({ minLength: 1, maxLength: 200, default: 'instance', description: 'The Alertmanager label whose value becomes an alert\'s location (the job label when it is absent; "alertmanager" when both are).' }),
  AM_TAG_LABELS: list('Comma list of Alertmanager labels whose values become tags, after the alertname (10 tags at most).', ''),
  GRAFANA_LOCATION_LABEL: Type.String({ minLength: 1, maxLength: 200, default: 'instance', description: 'The Grafana alert label whose value becomes an alert\'s location (grafana_folder when it is absent; "grafana" when both are).' }),
  GRAFANA_TAG_LABELS: list('Comma list of Grafana alert labels whose values become tags, after the alertname (10 tags at most).', ''),
  HEARTBEAT_CHECK_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 1000, description: 'How often the cluster looks for heartbeat monitors that missed their ping (one instance each time); a miss is raised at most this late.' }),
  HEARTBEATS_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: 1000, description: 'The most heartbeat monitors there may be: past it, a ping for a new name is refused (409 HEARTBEATS_FULL); monitors that exist still ping.' }),
  // eslint-disable-next-line no-template-curly-in-string -- ${VAR} is the file's own syntax
  NOTIFY_FILE: Type.String({ default: '', description: 'Path of a YAML (or JSON) file of notification receivers (webhook, slack, ntfy, email) and routes (see docs/notifications.md); ${VAR} in it is read from the environment. Re-read on SIGHUP and when it changes. Give every instance of a cluster the same file.' }),
  NOTIFY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 300000, default: 10000, description: 'How long one notification attempt may take before it counts as failed (and is tried again).' }),
  NOTIFY_GIVE_UP: Type.String({ pattern: DURATION_PATTERN, default: '24h', description: 'How long after its event a notification that keeps failing is tried again before it is given up (recorded as failed). A duration such as 30m, 24h, 2d.' }),
  PUBLIC_URL: Type.String({ default: '', description: 'The server\'s external base URL (https://alerts.example.com). Notifications about an open alert then carry signed Acknowledge and Resolve links under it; without it they carry none.' }),
  ACTION_SECRET: Type.String({ default: '', description: 'The HMAC-SHA256 key that signs the Acknowledge and Resolve links of notifications (16 characters at least). Unset: one is generated once and kept in the store (the SQLite file; Redis, shared by the cluster; in memory, for the process). Changing it voids the links already sent. Never logged or shown.' }),
  ACTION_TTL: Type.String({ pattern: DURATION_PATTERN, default: '24h', description: 'How long an Acknowledge or Resolve link of a notification works after it was sent. A duration such as 30m, 24h, 2d.' }),
  SMTP_URL: Type.String({ default: '', description: 'The mail server of email receivers: smtp://user:password@host:587 (STARTTLS when offered) or smtps://user:password@host:465. Never logged or shown.' }),
  SMTP_FROM: Type.String({ default: '', description: 'The From address of notification e-mails (a receiver\'s from overrides it).' }),
  CORS_ORIGINS_ALLOWED: list('Comma list of origins granted CORS, or * for any. A list also limits which browser pages may open the WebSocket (besides the server\'s own, see DOMAIN).', '*'),
  CORS_CREDENTIAL: Type.Boolean({ default: false, description: 'Allow credentials in CORS requests; with * the caller\'s origin is echoed.' }),
  CORS_METHODS_ALLOWED: list('Comma list of methods.', 'GET,POST'),
  CORS_HEADERS_ALLOWED: list('Comma list of request headers.', 'Content-Type,Authorization'),
  DOMAIN: Type.String({ default: '', description: 'Public host[:port] or URL, listed as the server in the OpenAPI and AsyncAPI documents; pages of this origin may open the WebSocket when CORS_ORIGINS_ALLOWED is a list.' }),
  WS_HEARTBEAT_MS: Type.Integer({ minimum: 0, default: 30000, description: 'Ping period; a client that missed the previous ping is cut. 0 turns it off.' }),
  WS_MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, default: 1048576, description: 'Unsent backlog above which a client is closed with 1013 (a GET /events stream is ended).' }),
  SSE_HEARTBEAT_MS: Type.Integer({ minimum: 0, default: 25000, description: 'Period of the keep-alive line of GET /events (an SSE comment, an NDJSON keepalive frame), so proxies keep a quiet stream open. 0 sends none.' }),
  WS_MAX_PAYLOAD: Type.Integer({ minimum: 64, maximum: 1048576, default: 16384, description: 'Largest frame a client may send; larger closes with 1009.' }),
  WS_CHAT_RATE: Type.Number({ exclusiveMinimum: 0, default: 5, description: 'Chat messages per second per connection.' }),
  WS_CHAT_BURST: Type.Integer({ minimum: 1, default: 10, description: 'Chat messages a connection may send at once.' }),
  WS_MAX_INVALID_FRAMES: Type.Integer({ minimum: 1, default: 20, description: 'Refused frames (not JSON, unknown type, invalid chat, over the chat rate) a connection may send at once; one more is allowed each second. Past it the connection is closed with 1008.' }),
  WS_MAX_CONNECTIONS_PER_ADDRESS: Type.Integer({ minimum: 1, default: 50, description: 'Open WebSocket connections and GET /events streams together (upgrades in progress included) from one client address; the next one from it gets 429.' }),
  WS_MAX_CONNECTIONS: Type.Integer({ minimum: 1, default: 10000, description: 'Open WebSocket connections and GET /events streams together; the next one gets 503.' }),
  IDEMPOTENCY_TTL_MS: Type.Integer({ minimum: 1000, default: 86400000, description: 'How long an Idempotency-Key of POST /alerts and POST /message is remembered (24 h by default): a retry with the same key within it returns the first result and publishes nothing.' }),
  IDEMPOTENCY_KEYS_MAX: Type.Integer({ minimum: 1, default: 20000, description: 'Idempotency keys remembered at most, in memory mode (each holds its first answer, about 2 KB): past it the oldest is forgotten first, before its IDEMPOTENCY_TTL_MS. With REDIS_URL the keys live in Redis, each with its TTL, under Redis\'s own memory policy.' }),
  IDEMPOTENCY_KEYS_PER_CLIENT: Type.Integer({ minimum: 1, default: 2000, description: 'Idempotency keys remembered at most per client (its token\'s name, else its address), in memory mode: past it that client\'s oldest is forgotten first, so one client cannot push out everyone else\'s.' }),
  API_TOKEN: Type.String({ default: '', description: 'A bearer token with every scope, named "api". When set (or TOKENS_FILE, JWT_SECRET or JWT_PUBLIC_KEY is), every API route and the WebSocket require a token; with none of them everything is open.' }),
  METRICS_TOKEN: Type.String({ default: '', description: 'A bearer token for GET /metrics only. When set (or TOKENS_FILE or a JWT key is), GET /metrics requires it or a credential with the metrics or admin scope.' }),
  TOKENS_FILE: Type.String({ default: '', description: 'Path of a JSON file of named, scoped tokens, stored as hashes: [{"name", "scopes", "hash", "expires"?}] (npm run token makes one). Re-read on SIGHUP and when it changes; a removed or expired entry\'s open connections are closed.' }),
  JWT_SECRET: Type.String({ default: '', description: 'Accept JWTs signed with this HS256 secret (claims sub, scope, exp required). At least 32 characters.' }),
  JWT_PUBLIC_KEY: Type.String({ default: '', description: 'Accept JWTs signed by the private half of this PEM public key: RS256 for an RSA key, ES256 for a P-256 key (claims sub, scope, exp required). Not together with JWT_SECRET.' }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 300, description: 'Publishing requests and WebSocket upgrades per client address per window.' }),
  RATE_LIMIT_WINDOW: Type.String({ pattern: DURATION, default: '1 minute', description: 'The rate-limit window: milliseconds, or a positive duration such as "1 minute", "30 s", "2 hours".' }),
  AUTH_FAILURE_MAX: Type.Integer({ minimum: 1, default: 10, description: 'Wrong tokens per client address per AUTH_FAILURE_WINDOW_MS; past it every request of that address to a route behind a token gets 429 until the window ends.' }),
  AUTH_FAILURE_WINDOW_MS: Type.Integer({ minimum: 1000, default: 60000, description: 'The window of AUTH_FAILURE_MAX, from the first wrong token, in milliseconds.' }),
  IPV6_SUBNET: Type.Integer({ minimum: 32, maximum: 128, default: 64, description: 'IPv6 clients are counted by their network of this many bits for every per-address limit (RATE_LIMIT_MAX, AUTH_FAILURE_MAX, WS_MAX_CONNECTIONS_PER_ADDRESS): one host usually holds a whole /64, so counted address by address it could take any number of budgets. 128 counts each address on its own (a trusted network where many clients share one /64).' }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000, description: 'Event-loop delay above which requests get 503; 0 turns the check off.' }),
  MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0, description: 'Heap use above which requests get 503; 0 turns the check off.' }),
  TRUST_PROXY: Type.String({ default: '', description: 'Comma list of the addresses or CIDR ranges of the proxies (load balancers) in front of the server, whose X-Forwarded-For is trusted for the client address; also loopback, linklocal, uniquelocal. Empty (or 0) uses the socket address. A hop count is refused: it would let a client that reaches the server directly choose its address.' }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30000, description: 'Time to receive a whole request, headers and body; a slower one gets 408 and its connection is closed.' }),
  HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10000, description: 'Time to receive the request headers, counted from the connection or the previous request; at most REQUEST_TIMEOUT_MS.' }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 72000, description: 'How long an idle keep-alive connection stays open; keep it above the idle timeout of a load balancer in front.' }),
  REDIS_URL: Type.String({ default: '', description: 'redis://[user:password@]host:port[/db] (rediss:// for TLS). When set (and STORE is unset or redis), history and fan-out go through this Redis, shared by every instance.' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 50, default: 5000, description: 'How long a Redis command may take. A publish that times out is answered 504 with its outcome unknown (it may have been stored and sent): retry it with the same Idempotency-Key.' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'alerts:', description: 'Prefix of every Redis key and channel, so deployments can share one Redis.' })
})
export type Config = Static<typeof ConfigSchema>

/** Splits a comma-list setting such as "GET, POST" into trimmed, non-empty items. */
export function commaList (value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}
