/**
 * Tokens sent as ?token= and the signatures of action links (?sig=) (browsers cannot set headers on a WebSocket or an
 * EventSource) hidden wherever a URL is logged or echoed: log lines (app.ts)
 * and error messages (plugins/app/errors.ts), the whole value, never a prefix.
 */

// A query parameter as it appears in a URL or in a JSON log line: its value
// ends at the next parameter, at whitespace or at the closing quote of a JSON
// string (an escaped quote or backslash inside it belongs to the value).
const QUERY_PARAM = /([?&])([^=&?#\s"\\]*)=((?:\\.|[^&\s"\\])*)/g

// Parameters whose value is a credential: ?token= (streams), ?sig= (the signed action links of notifications).
const HIDDEN = new Set(['token', 'sig'])

// The query parser percent-decodes names, so ?%74oken= is read as ?token=.
function namesToken (name: string): boolean {
  return HIDDEN.has(name.replace(/%([\da-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))).toLowerCase())
}

/** Hides the value of every query parameter whose decoded name is token or sig, anywhere in `text`. */
export function redactToken (text: string): string {
  if (!text.includes('=')) return text
  return text.replace(QUERY_PARAM, (param: string, separator: string, name: string) =>
    namesToken(name) ? `${separator}${name}=[redacted]` : param)
}

// A query parameter of a URL as sent: its value runs to the next parameter,
// the fragment or the end of the URL (a request line holds no whitespace);
// quotes and backslashes are part of it.
const URL_PARAM = /([?&])([^=&?#\s]*)=([^&#\s]*)/g

/** Hides the whole value of every ?token= (its name decoded) in a URL, or in a message that quotes one. */
export function redactUrlToken (text: string): string {
  if (!text.includes('=')) return text
  return text.replace(URL_PARAM, (param: string, separator: string, name: string) =>
    namesToken(name) ? `${separator}${name}=[redacted]` : param)
}
