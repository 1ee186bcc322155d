import { randomUUID } from 'node:crypto'
import { severityRank, type Alert, type AlertBefore, type AlertFields, type AlertUpdate, type Change, type Chat, type ChatInput, type Draft, type Event, type Source } from '../../schemas/events'
import { messageOf } from '../../schemas/errors'
import type { EventStore, Once, StoredAlert } from './backend'
import { AlertConflictError, AlertNotFoundError, BackendUnavailableError, BoardFullError, IdempotencyConflictError } from './errors'
import { act, escalated, escalationDue, newAlert, repeated, type Action } from './lifecycle'

/**
 * What the credential behind a publish may do beyond publishing. Without
 * `operate` (a publish-only token), a repeat of an alert that another source
 * raised never lowers its severity (a script cannot quiet a heartbeat's or
 * Alertmanager's critical alert, nor stop its escalation, by repeating its key
 * as info). Internal publishers (ticker, heartbeats) have every right.
 */
export interface Rights { operate: boolean }
export const ALL_RIGHTS: Rights = { operate: true }

/** What an acknowledge or resolve did: changed the alert (and published an update), or found it already so. */
export interface ActResult { changed: boolean, alert: Alert }

/**
 * The one path every event takes, whoever publishes it: stamp, then append
 * (which fans it out). Alert changes are read, decided by the lifecycle
 * rules, and stored only if the alert did not change meanwhile; otherwise
 * they are decided again, so concurrent changes never lose one another.
 */
export interface Publisher {
  /** A chat message, or an alert (new, or a repeat of the open alert with its key). */
  publish: <D extends Draft>(draft: D, rights?: Rights) => Promise<D['type'] extends 'alert' ? Alert : Chat>
  /**
   * Publishes at most once per idempotency key (within the window): a repeat
   * of the same draft gets what the first got (`replayed: true`) and
   * publishes nothing; another draft under a used key is refused with
   * IdempotencyConflictError. `owner` (the client's rate-limit key) is whom
   * the key counts against where the store caps keys per client.
   */
  publishOnce: <D extends Draft>(draft: D, key: string, rights?: Rights, owner?: string) => Promise<{ event: D['type'] extends 'alert' ? Alert : Chat, replayed: boolean }>
  /**
   * Acknowledges or resolves an alert, by id or by key (the alert with that key
   * that is not resolved; to resolve, else the newest with that key, already
   * resolved; with `source`, only one that source raised: any other is as if
   * there were none).
   */
  act: (target: { id: string } | { key: string, source?: Source }, action: Action, by: string, note?: string) => Promise<ActResult>
  /** Announces a critical alert nobody acknowledged again, if it is still due. Resolves with whether it did. */
  escalate: (id: string, afterMs: number) => Promise<boolean>
  /** Called after each event published by this instance has been stored. */
  onPublish: (listener: (event: Event) => void) => void
  /** When a new alert was last refused for a full board (OPEN_ALERTS_MAX), until one is raised again; undefined while there is room. */
  boardFullSince: () => number | undefined
}

/** Builds a chat event a client sees; only the known fields, in wire order. */
export function stampChat (input: ChatInput, now: () => number = Date.now): Chat {
  return { id: randomUUID(), timestamp: new Date(now()).toISOString(), type: 'chat', sender: input.sender, message: input.message }
}

/** Builds the event of a draft as if it were new (tests and tools); alerts come out open, raised once. */
export function stamp<D extends Draft> (draft: D, now: () => number = Date.now): D['type'] extends 'alert' ? Alert : Chat {
  const d: Draft = draft
  const event = d.type === 'alert'
    ? newAlert(randomUUID(), now(), d, d.source ?? 'api')
    : stampChat(d, now)
  return event as D['type'] extends 'alert' ? Alert : Chat
}

/** What a client gets back for an event: the alert it carries, or the chat message. */
function answerOf (event: Event): Alert | Chat {
  return event.type === 'alert_update' ? event.alert : event
}

/** The same tags in the same order (none and none alike). */
const sameTags = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((tag, i) => tag === b[i]))

/** Whether the event stored under an idempotency key is what `draft` would publish (the fields a client sets). */
export function sameDraft (prior: Event, draft: Draft): boolean {
  const answer = answerOf(prior)
  if (answer.type === 'chat') return draft.type === 'chat' && answer.sender === draft.sender && answer.message === draft.message
  if (draft.type !== 'alert') return false
  const asked = severityRank(draft.severity ?? 'warning')
  // A new alert has the severity asked for; a repeat's may be above it (one that could not lower it).
  const severity = prior.type === 'alert' ? severityRank(answer.severity) === asked : severityRank(answer.severity) >= asked
  return severity && answer.message === draft.message && answer.location === draft.location &&
    answer.key === draft.key && answer.link === draft.link && sameTags(answer.tags, draft.tags)
}

// Alerts read at a time when looking for the newest with a key that none open has.
const KEY_SEARCH_PAGE = 100

// Each retry re-reads the alert; only a storm of changes to one alert needs many.
const MAX_ATTEMPTS = 100

export interface PublisherOptions {
  now?: () => number
  /** How long an idempotency key is remembered. */
  idempotencyTtlMs?: number
}

/** What a repeat changed of the fields filters read (severity, location, tags): the alert's values before it, or undefined. */
export function changedFilterFields (before: Alert, after: Alert): AlertBefore | undefined {
  if (before.severity === after.severity && before.location === after.location && sameTags(before.tags, after.tags)) return undefined
  const previous: AlertBefore = { severity: before.severity, location: before.location }
  if (before.tags !== undefined) previous.tags = before.tags
  return previous
}

/** Thrown inside an attempt when the idempotency key was already used: carries what was stored under it. */
class Replayed { constructor (readonly prior: Event) {} }

export function createPublisher (store: EventStore, { now = Date.now, idempotencyTtlMs = 24 * 3600_000 }: PublisherOptions = {}): Publisher {
  const listeners: Array<(event: Event) => void> = []
  /** When a new alert was first refused for a full board, since the last one raised. */
  let fullSince: number | undefined

  function published (event: Event): void {
    for (const listener of listeners) listener(event)
  }

  function update (change: Change, alert: Alert, by?: string, note?: string): AlertUpdate {
    const event: AlertUpdate = { id: randomUUID(), timestamp: alert.updatedAt, type: 'alert_update', change, alert }
    if (by !== undefined) event.by = by
    if (note !== undefined && note !== '') event.note = note
    return event
  }

  /** Runs `attempt` until the store takes its change. */
  async function retried<T> (attempt: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const result = await attempt()
      if (result !== undefined) return result
    }
    throw new BackendUnavailableError('too many concurrent changes to one alert; try again')
  }

  /** Appends; false when the expectation failed; throws Replayed when the idempotency key was used. */
  async function stored (event: Event, expect?: Parameters<EventStore['append']>[1], once?: Once): Promise<boolean> {
    const result = await store.append(event, expect, once)
    if (result.stored) {
      if (event.type === 'alert') fullSince = undefined
      published(event)
      return true
    }
    if (result.prior !== undefined) throw new Replayed(result.prior)
    if (result.full === true) {
      fullSince ??= now()
      throw new BoardFullError(messageOf('BOARD_FULL'))
    }
    return false
  }

  async function raise (input: AlertFields, source: Source, rights: Rights, once?: Once): Promise<Alert> {
    if (input.key === undefined) {
      const alert = newAlert(randomUUID(), now(), input, source)
      await stored(alert, undefined, once)
      return alert
    }
    const key = input.key
    return await retried(async () => {
      const open = await store.openByKey(key)
      if (open === undefined) {
        const alert = newAlert(randomUUID(), now(), input, source)
        return await stored(alert, { kind: 'key-free', key }, once) ? alert : undefined
      }
      const severity = input.severity ?? 'warning'
      const kept = !rights.operate && open.alert.source !== source && severityRank(severity) < severityRank(open.alert.severity)
      const event = update('repeated', repeated(open.alert, kept ? { ...input, severity: open.alert.severity } : input, now()))
      const previous = changedFilterFields(open.alert, event.alert)
      if (previous !== undefined) event.previous = previous
      return await stored(event, { kind: 'rev', alertId: open.alert.id, rev: open.rev }, once) ? event.alert : undefined
    })
  }

  /**
   * The alert most recently raised with `key`, among those the store keeps
   * (read newest first, a page at a time: it is nearly always among the newest).
   */
  async function newestWithKey (key: string): Promise<StoredAlert | undefined> {
    if (store.lastByKey !== undefined) return await store.lastByKey(key)
    let before: number | undefined
    for (;;) {
      const page = await store.newest(KEY_SEARCH_PAGE, before)
      const found = page.find((stored) => stored.alert.key === key)
      if (found !== undefined || page.length < KEY_SEARCH_PAGE) return found
      before = (page[page.length - 1] as StoredAlert).seq
    }
  }

  async function publishDraft (draft: Draft, rights: Rights, once?: Once): Promise<Alert | Chat> {
    if (draft.type === 'chat') {
      const chat = stampChat(draft, now)
      await stored(chat, undefined, once)
      return chat
    }
    const { type: _type, source, ...input } = draft
    return await raise(input, source ?? 'api', rights, once)
  }

  return {
    async publish (draft, rights = ALL_RIGHTS) {
      return await publishDraft(draft, rights) as never
    },

    async publishOnce (draft, key, rights = ALL_RIGHTS, owner) {
      try {
        return { event: await publishDraft(draft, rights, { key, ttlMs: idempotencyTtlMs, ...(owner === undefined ? {} : { owner }) }) as never, replayed: false }
      } catch (err) {
        if (!(err instanceof Replayed)) throw err
        const answer = answerOf(err.prior)
        if (!sameDraft(err.prior, draft)) throw new IdempotencyConflictError('this Idempotency-Key was already used for a different request')
        return { event: answer as never, replayed: true }
      }
    },

    async act (target, action, by, note) {
      return await retried(async () => {
        // Resolving by key a second time finds the alert already resolved, as
        // by id: a job that resolves on every healthy run must not fail on the second.
        let current: StoredAlert | undefined = 'id' in target
          ? await store.alert(target.id)
          : await store.openByKey(target.key) ?? (action === 'resolve' ? await newestWithKey(target.key) : undefined)
        if ('source' in target && target.source !== undefined && current?.alert.source !== target.source) current = undefined
        if (current === undefined) {
          throw new AlertNotFoundError('id' in target ? `no alert with id ${target.id}` : `no ${action === 'resolve' ? '' : 'open '}alert with key ${JSON.stringify(target.key)}`)
        }
        const outcome = act(current.alert, action, by, now(), note)
        if (outcome.kind === 'conflict') throw new AlertConflictError(outcome.message)
        if (outcome.kind === 'unchanged') return { changed: false, alert: current.alert }
        const event = update(action === 'acknowledge' ? 'acknowledged' : 'resolved', outcome.alert, by, note)
        return await stored(event, { kind: 'rev', alertId: current.alert.id, rev: current.rev }) ? { changed: true, alert: outcome.alert } : undefined
      })
    },

    async escalate (id, afterMs) {
      return await retried(async () => {
        const current = await store.alert(id)
        if (current === undefined || !escalationDue(current.alert, afterMs, now())) return false
        const event = update('escalated', escalated(current.alert, now()))
        return await stored(event, { kind: 'rev', alertId: id, rev: current.rev }) ? true : undefined
      })
    },

    boardFullSince: () => fullSince,

    onPublish (listener) {
      listeners.push(listener)
    }
  }
}
