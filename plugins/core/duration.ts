/**
 * Short durations as people write them in a cron line or a query string:
 * a whole number and one unit, `30s`, `10m`, `2h`, `1d` (also `500ms`, `1w`).
 * No spaces, no fractions, no unit-less numbers: a typo is refused rather
 * than read as milliseconds. And moments, as ISO 8601 date-times with a zone.
 */
import { DURATION_PATTERN } from '../../schemas/events'

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const
type Unit = keyof typeof UNITS

const DURATION = new RegExp(DURATION_PATTERN)

/** The duration in milliseconds, or undefined when the text is not one. */
export function parseDuration (text: string): number | undefined {
  const match = DURATION.exec(text)
  if (match === null) return undefined
  const unit = match[1] as Unit
  return Number(text.slice(0, -unit.length)) * UNITS[unit]
}

// Largest first, so that 86400000 reads "1d" and 90000 "90s".
const LARGEST_FIRST = (Object.entries(UNITS) as Array<[Unit, number]>).sort((a, b) => b[1] - a[1])

/** The shortest way to write `ms` in the units above: the largest unit that divides it exactly. */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  const [unit, size] = LARGEST_FIRST.find(([, each]) => ms % each === 0) ?? ['ms', 1]
  return `${ms / size}${unit}`
}

// A date and a time, as ISO 8601 writes them, with the zone: what Date.parse
// reads is wider (and differs between engines), and without a zone it would
// read the server's local time, so the shape is checked first.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i

/** Whether the date part names a day of the calendar: Date.parse takes 2026-02-31 for 3 March. */
function realDate (value: string): boolean {
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** Epoch ms of an ISO 8601 date-time with its zone (`2027-01-01T00:00:00Z`, `…+01:00`) on a real calendar day; else undefined. */
export function parseDateTime (value: string): number | undefined {
  if (!ISO_DATE_TIME.test(value) || !realDate(value)) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}
