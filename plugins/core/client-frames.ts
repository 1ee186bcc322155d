import type { ChatInput } from '../../schemas/events'
import type { ErrorFrame } from '../../schemas/frames'

/** A validator whose failures read like the HTTP 400 messages. */
export type Check<T> = (data: unknown) => { ok: true, value: T } | { ok: false, message: string }

/** What to do with one frame a client sent. */
export type FrameAction =
  | { action: 'pong' }
  | { action: 'chat', chat: ChatInput }
  | { action: 'refuse', code: ErrorFrame['code'], message: string }

export const CHAT_EXPECTED = 'expected {"sender": string, "message": string} or {"type": "ping"}'

/**
 * Reads one client frame: a ping, a chat message (checked by `checkChat`, and
 * by `allowChat` for the rate), or anything else, refused with a reason.
 */
export function readClientFrame (data: string, checkChat: Check<ChatInput>, allowChat: () => boolean, rateText: string): FrameAction {
  let frame: unknown
  try {
    frame = JSON.parse(data)
  } catch {
    return { action: 'refuse', code: 'invalid_json', message: `frame is not valid JSON; ${CHAT_EXPECTED}` }
  }
  const type = typeof frame === 'object' && frame !== null && !Array.isArray(frame)
    ? (frame as Record<string, unknown>).type
    : undefined
  if (type === 'ping') return { action: 'pong' }
  if (type !== undefined && type !== 'chat') {
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 50)) : `of type ${Array.isArray(type) ? 'array' : typeof type}`
    return { action: 'refuse', code: 'unknown_type', message: `unknown frame type ${shown}; ${CHAT_EXPECTED}` }
  }
  const result = checkChat(frame)
  if (!result.ok) return { action: 'refuse', code: 'invalid_message', message: `${result.message}; ${CHAT_EXPECTED}` }
  if (!allowChat()) return { action: 'refuse', code: 'rate_limited', message: `${rateText}; this one was not sent` }
  return { action: 'chat', chat: result.value }
}
