import fp from 'fastify-plugin'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Alert } from '../../schemas/events'
import type { DeliveryAttempt, Outbox, Silence } from '../core/backend'
import { emptyNotifyConfig, parseNotifyConfig, scrub, unusedReceivers, type NotifyConfig } from '../core/notify-config'
import { remindersDue, routeEvent } from '../core/notify-messages'
import { createDeliverer } from '../core/notify-receivers'
import { createSender, type Sender } from '../core/notify-sender'
import { parseDuration } from '../core/duration'
import { silencedBy, silences as takes } from '../core/silences'
import { createRuns, type Timer } from '../core/timers'
import { coalesced } from '../core/coalesce'
import { watchFile } from '../core/file-watch'
import { createLinkSigner, publicUrlOf, type LinkSigner } from '../core/action-links'

export interface Notifications {
  /** The outbox of the backend. */
  outbox: Outbox
  /** The configuration in force. */
  config: () => NotifyConfig
  /** Re-reads NOTIFY_FILE; false (the previous configuration kept) when it cannot be read or is not valid. */
  reload: () => Promise<boolean>
  sender: Sender
  /** Called after every attempt (metrics). */
  onAttempt: (listener: (attempt: DeliveryAttempt) => void) => void
  silences: SilenceControl
  /** The key of the Acknowledge and Resolve links: ACTION_SECRET, else the one kept in the store (read once, then remembered). */
  actionSecret: () => Promise<string>
}

export interface SilenceControl {
  add: (silence: Silence) => Promise<void>
  /** Those not ended, by start. */
  list: () => Silence[]
  /** Ends a silence now; the alerts it held that are still open and not acknowledged are notified once. */
  end: (id: string) => Promise<Silence | undefined>
  /** Whether a silence in force holds the alert. */
  holds: (alert: Alert) => boolean
  /** The id of the silence in force that holds the alert, if one does. */
  holding: (alert: Alert) => string | undefined
  /** When this instance notified the alert's release from a silence (within ESCALATE_AFTER_MS), if it did. */
  releasedAt: (alert: Alert) => number | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** NOTIFY_FILE's routes and receivers, and the sender that takes the outbox to them. */
    notifications: Notifications
  }
}

// After a failed reminder check (the store unavailable), the next one.
const REMIND_RETRY_MS = 60_000

/** SMTP_URL's password (and the whole URL), which are never shown either. */
function smtpSecrets (smtpUrl: string): string[] {
  if (smtpUrl === '') return []
  try {
    const url = new URL(smtpUrl)
    return [smtpUrl, decodeURIComponent(url.password)].filter((s) => s !== '')
  } catch {
    return [smtpUrl]
  }
}

// NOTIFY_FILE is read at start-up (a bad file stops the start), then again on
// SIGHUP and whenever it changes. A file that turns bad keeps the
// configuration before it: a half-written file must not silence anything.
export default fp(async function notifications (fastify) {
  const { NOTIFY_FILE, SMTP_URL, SMTP_FROM, NOTIFY_TIMEOUT_MS, NOTIFY_GIVE_UP, DOMAIN, PUBLIC_URL, ACTION_SECRET, ACTION_TTL, ESCALATE_AFTER_MS } = fastify.config
  const { backend, timers } = fastify
  const { outbox, silences: silenceStore } = backend
  const file = NOTIFY_FILE === '' ? '' : resolve(NOTIFY_FILE)
  let current = emptyNotifyConfig()
  const publicUrl = publicUrlOf(PUBLIC_URL)
  if (ACTION_SECRET !== '' && ACTION_SECRET.length < 16) throw new Error('ACTION_SECRET must be 16 characters at least (or unset: one is generated and kept in the store)')
  const actionTtlMs = parseDuration(ACTION_TTL) ?? 86_400_000
  // Kept in the store when not configured, so links outlive a restart (and, on Redis, work on every instance).
  let secret: Promise<string> | undefined
  const actionSecret = async (): Promise<string> => {
    if (ACTION_SECRET !== '') return ACTION_SECRET
    secret ??= backend.settings.keep('action_secret', () => randomBytes(32).toString('base64url'))
    // A failed read (the store away) is tried again next time.
    return await secret.catch((err: unknown) => {
      secret = undefined
      throw err
    })
  }
  const signer = async (): Promise<LinkSigner | undefined> => publicUrl === undefined
    ? undefined
    : createLinkSigner({ base: publicUrl, secret: await actionSecret(), ttlMs: actionTtlMs, now: () => timers.now() })
  const fixedSecrets = [...smtpSecrets(SMTP_URL), ...(ACTION_SECRET === '' ? [] : [ACTION_SECRET])]
  const hide = (text: string): string => scrub(text, [...current.secrets, ...fixedSecrets])
  const listeners: Array<(attempt: DeliveryAttempt) => void> = []

  async function read (): Promise<{ text: string, config: NotifyConfig } | string> {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      return `${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`
    }
    const config = parseNotifyConfig(text, file, { env: process.env, smtp: SMTP_URL !== '' })
    return typeof config === 'string' ? scrub(config, fixedSecrets) : { text, config }
  }

  let loaded = ''
  // The text last refused: a file that stays bad is reported once, not at every event of its directory.
  let refused: string | undefined

  function refuse (problem: string): false {
    if (problem !== refused) fastify.log.error({ problem }, 'NOTIFY_FILE not reloaded: the previous configuration stays in force')
    refused = problem
    return false
  }

  /** Says what was read, and which receivers no route sends to (a route forgotten, or a name mistyped). */
  function loadedLog (): void {
    fastify.log.info({ file, receivers: current.receivers.size, routes: current.routes.length }, 'NOTIFY_FILE loaded')
    const unused = unusedReceivers(current)
    if (unused.length > 0) fastify.log.warn({ file, receivers: unused }, 'NOTIFY_FILE: no route sends to these receivers')
  }

  async function load (): Promise<boolean> {
    const got = await read()
    if (typeof got === 'string') return refuse(got)
    // A file written in place is empty for a moment: that is not "notify nobody"
    // (which `routes: []` says), and taking it would give up every pending notification.
    if (got.text.trim() === '' && (current.receivers.size > 0 || current.routes.length > 0)) {
      return refuse(`${file}: is empty (being written?); to notify nobody, write routes: []`)
    }
    refused = undefined
    if (got.text === loaded) return true
    loaded = got.text
    current = got.config
    loadedLog()
    sender.kick()
    // Other repeats: look again now.
    runs.track(checkReminders())
    return true
  }

  // Changes arrive in bursts (an editor's write is several events): one read
  // at a time, and one more after it if anything changed meanwhile.
  const reloadFile = coalesced(load)
  const reload = async (): Promise<boolean> => file === '' ? true : await reloadFile()

  const deliverer = createDeliverer({ domain: publicUrl ?? DOMAIN, smtpUrl: SMTP_URL, smtpFrom: SMTP_FROM, timeoutMs: NOTIFY_TIMEOUT_MS, signer })
  const sender = createSender({
    outbox,
    receiver: (name) => current.receivers.get(name),
    deliver: deliverer.deliver,
    timers,
    log: fastify.log,
    timeoutMs: NOTIFY_TIMEOUT_MS,
    giveUpMs: parseDuration(NOTIFY_GIVE_UP) ?? 86_400_000,
    scrub: hide,
    onAttempt: (attempt) => { for (const listener of listeners) listener(attempt) }
  })

  // Silences are read once and then kept here: the router, which runs inside
  // an append, must decide without waiting. With memory and SQLite this
  // process is the only writer; on Redis the store hands over the silences
  // again whenever another instance changed them.
  let held: Silence[] = []
  try {
    held = await silenceStore.list()
  } catch (err) {
    // Redis away at start: the store hands them over once it answers (and before routing an event).
    fastify.log.warn({ err }, 'the silences could not be read yet; they are read once the store answers')
  }

  // Alert id → when its release from a silence was notified: the escalator waits
  // ESCALATE_AFTER_MS from then. Kept that long; in a cluster, by the instance that notified.
  const releases = new Map<string, number>()

  /** A silence ended: the alerts it held that are open, not acknowledged and held by no other are notified once, as their routes say. */
  async function released (silence: Silence): Promise<void> {
    if (current.routes.length === 0) return
    // As they stand now: on Redis another instance may have made one a moment ago.
    held = await silenceStore.list()
    const now = timers.now()
    for (const [id, at] of releases) if (now - at >= ESCALATE_AFTER_MS) releases.delete(id)
    for (const { alert } of await backend.store.alerts({ unresolved: true })) {
      // Held: changed while the silence was in force (what happened to it then was told to nobody).
      if (alert.state !== 'open' || Date.parse(alert.updatedAt) < silence.startsAt || !takes(silence, alert) || silencedBy(held, alert, now) !== undefined) continue
      const drafts = routeEvent(current, alert, randomUUID, undefined, now)
      if (drafts.length === 0) continue
      await outbox.enqueue(alert, drafts)
      releases.set(alert.id, now)
    }
    sender.kick()
  }

  async function end (id: string): Promise<Silence | undefined> {
    // Of several instances ending it at once (on Redis), the one that removed it notifies.
    const silence = await silenceStore.remove(id)
    held = held.filter((s) => s.id !== id)
    scheduleExpiry()
    if (silence !== undefined && silence.startsAt <= timers.now()) await released(silence)
    return silence
  }

  // Checks a timer started (silence ends, reminders) that are still running:
  // shutdown waits for them, so that none reads or writes a closed store.
  const runs = createRuns()

  // One timer, for the silence that ends first (re-armed at most a day
  // ahead: timers overflow past 24.8 days).
  let expiryTimer: Timer | undefined
  let expiring = false
  function scheduleExpiry (): void {
    timers.clearTimeout(expiryTimer)
    expiryTimer = undefined
    if (!expiring || held.length === 0) return
    const next = Math.min(...held.map((s) => s.endsAt))
    expiryTimer = timers.setTimeout(() => { runs.track(expire()) }, Math.min(86_400_000, Math.max(0, next - timers.now())))
    expiryTimer.unref()
  }
  async function expire (): Promise<void> {
    const now = timers.now()
    for (const silence of held.filter((s) => s.endsAt <= now)) {
      await end(silence.id).catch((err: unknown) => fastify.log.warn({ err, silence: silence.id }, 'ending a silence failed; it is tried again'))
    }
    scheduleExpiry()
  }

  const silenceControl: SilenceControl = {
    async add (silence) {
      await silenceStore.add(silence)
      // It may be there already, handed over by the store meanwhile.
      held = [...held.filter((s) => s.id !== silence.id), silence].sort((a, b) => a.startsAt - b.startsAt)
      scheduleExpiry()
    },
    list: () => held.filter((s) => s.endsAt > timers.now()),
    end,
    holds: (alert) => silencedBy(held, alert, timers.now()) !== undefined,
    holding: (alert) => silencedBy(held, alert, timers.now())?.id,
    releasedAt: (alert) => releases.get(alert.id)
  }
  silenceStore.follow?.((silences) => {
    held = silences
    scheduleExpiry()
  })
  fastify.addHook('onReady', async () => {
    expiring = true
    // Those that ended while the server was stopped end now.
    await expire()
  })
  fastify.addHook('onClose', async () => {
    expiring = false
    scheduleExpiry()
    await runs.settled()
  })

  // Routes with `repeat`: one timer, for the next reminder due. When each
  // went is kept here; each is claimed by route and period, so that a
  // cluster sends one, and after a restart it comes early only in memory.
  const reminded = new Map<string, number>()
  let remindTimer: Timer | undefined
  let reminding = false
  function scheduleReminders (at: number): void {
    timers.clearTimeout(remindTimer)
    remindTimer = undefined
    if (!reminding || !Number.isFinite(at)) return
    remindTimer = timers.setTimeout(() => { runs.track(checkReminders()) }, Math.min(86_400_000, Math.max(0, at - timers.now())))
    remindTimer.unref()
  }
  async function checkReminders (): Promise<void> {
    if (!reminding) return
    const now = timers.now()
    let next = now + REMIND_RETRY_MS
    try {
      // As they stand now: on Redis another instance may have made one a moment ago.
      held = await silenceStore.list()
      scheduleExpiry()
      const open = (await backend.store.alerts({ unresolved: true })).map((stored) => stored.alert)
      const { due, next: then } = remindersDue(current, open, now, reminded, (a) => silencedBy(held, a, now) !== undefined)
      // One instance of a cluster sends each reminder (and, where claims are kept, none comes early after a restart).
      const won = new Map<string, { alert: Alert, receivers: Set<string> }>()
      for (const { alert, receivers, slot, periodMs } of due) {
        if (!await backend.claims.claim(`reminder:${slot}`, 2 * periodMs)) continue
        const to = won.get(alert.id) ?? { alert, receivers: new Set<string>() }
        for (const receiver of receivers) to.receivers.add(receiver)
        won.set(alert.id, to)
      }
      for (const { alert, receivers } of won.values()) {
        await outbox.enqueue(alert, [...receivers].map((receiver) => ({ id: randomUUID(), receiver, kind: 'reminder' as const })))
      }
      if (won.size > 0) sender.kick()
      next = then
    } catch (err) {
      fastify.log.warn({ err }, 'the reminder check failed; it is tried again')
    }
    scheduleReminders(next)
  }

  if (file !== '') {
    const got = await read()
    if (typeof got === 'string') throw new Error(`NOTIFY_FILE ${got}`)
    loaded = got.text
    current = got.config
    loadedLog()
    outbox.route((event) => {
      try {
        const now = timers.now()
        return routeEvent(current, event, randomUUID, (alert) => silencedBy(held, alert, now) !== undefined, now)
      } catch (err) {
        // Never fail an append for a notification: the event matters more.
        fastify.log.error({ err }, 'notification routing failed; this event notifies nobody')
        return []
      }
    })
    // Appended events (this instance's, after commit) may have written entries: look now, not at the next poll;
    // once for the events of one event-loop turn (a burst is hundreds a second), not once per event.
    let kickQueued = false
    backend.feed.subscribe(() => {
      if (kickQueued) return
      kickQueued = true
      setImmediate(() => {
        kickQueued = false
        sender.kick()
      })
    })
    // Re-read when it changes (core/file-watch.ts: a burst of writes once, only
    // events naming the file, a ConfigMap's swap, a symlink's target elsewhere).
    const watcher = watchFile(file, () => { void reload() }, (err) => { fastify.log.error({ err }, 'NOTIFY_FILE watch failed; reload with SIGHUP') })
    // Asked for by hand: a file still bad is reported again.
    const onHangup = (): void => {
      refused = undefined
      watcher.retarget()
      void reload()
    }
    process.on('SIGHUP', onHangup)
    fastify.addHook('onReady', async () => {
      sender.start()
      reminding = true
      await checkReminders()
    })
    fastify.addHook('onClose', async () => {
      reminding = false
      scheduleReminders(Infinity)
      watcher.close()
      process.off('SIGHUP', onHangup)
      await runs.settled()
      await sender.stop()
      deliverer.close()
    })
  }

  fastify.decorate('notifications', {
    outbox,
    config: () => current,
    reload,
    sender,
    onAttempt: (listener: (attempt: DeliveryAttempt) => void) => { listeners.push(listener) },
    silences: silenceControl,
    actionSecret
  })
}, { name: 'notifications', fastify: '5.x', dependencies: ['config', 'timers', 'backend'] })
