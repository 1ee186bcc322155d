/**
 * Recurring time intervals, as Alertmanager's `time_intervals`: times of
 * day, weekdays, days of the month and months, in an IANA time zone. A
 * route's `mute_time_intervals` names those during which it notifies nobody.
 * Evaluated on the wall clock of the interval's zone, so "09:00 to 17:00 in
 * Europe/Berlin" stays so across a daylight-saving change.
 */

/** An inclusive range of numbers (weekdays 0-6 from Sunday, days of the month 1-31 or -31 to -1 from its end, months 1-12). */
export type Range = [number, number]

/** One interval: every field given must hold (an absent one holds always). */
export interface TimeInterval {
  /** Minutes since midnight: start inclusive, end exclusive (end up to 1440, 24:00). */
  times?: Range[]
  weekdays?: Range[]
  daysOfMonth?: Range[]
  months?: Range[]
  /** The IANA zone the fields are read in; UTC by default. */
  location: string
}

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const
export const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const

/** The wall clock of a zone at an instant. */
export interface WallClock {
  weekday: number
  day: number
  month: number
  year: number
  /** Minutes since midnight. */
  minutes: number
}

const formats = new Map<string, Intl.DateTimeFormat>()
function formatOf (location: string): Intl.DateTimeFormat {
  let format = formats.get(location)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: location, hourCycle: 'h23', weekday: 'long', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    formats.set(location, format)
  }
  return format
}

/** Whether the runtime knows a time zone by this name. */
export function knownZone (location: string): boolean {
  try {
    formatOf(location)
    return true
  } catch {
    return false
  }
}

/** The wall clock of `location` at `at` (ms since the epoch). */
export function wallClock (at: number, location: string): WallClock {
  const parts: Record<string, string> = {}
  for (const part of formatOf(location).formatToParts(at)) parts[part.type] = part.value
  return {
    weekday: (WEEKDAYS as readonly string[]).indexOf((parts.weekday ?? '').toLowerCase()),
    day: Number(parts.day),
    month: Number(parts.month),
    year: Number(parts.year),
    minutes: Number(parts.hour) * 60 + Number(parts.minute)
  }
}

const within = (ranges: Range[] | undefined, value: number): boolean =>
  ranges === undefined || ranges.some(([from, to]) => from <= value && value <= to)

/** Whether `at` falls in the interval. */
export function inInterval (interval: TimeInterval, at: number): boolean {
  const clock = wallClock(at, interval.location)
  if (!within(interval.weekdays, clock.weekday) || !within(interval.months, clock.month)) return false
  if (interval.times !== undefined && !interval.times.some(([start, end]) => start <= clock.minutes && clock.minutes < end)) return false
  if (interval.daysOfMonth !== undefined) {
    // Negative days count from the month's end: -1 is its last day.
    const length = new Date(Date.UTC(clock.year, clock.month, 0)).getUTCDate()
    const absolute = (day: number): number => day < 0 ? length + day + 1 : day
    if (!interval.daysOfMonth.some(([from, to]) => absolute(from) <= clock.day && clock.day <= absolute(to))) return false
  }
  return true
}

/** Whether `at` falls in any of a named interval's intervals. */
export const inAny = (intervals: readonly TimeInterval[], at: number): boolean => intervals.some((interval) => inInterval(interval, at))

/** `HH:MM` as minutes since midnight (24:00 allowed, as an end); undefined when it is not one. */
export function minutesOf (text: string): number | undefined {
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text)
  if (match === null) return undefined
  const minutes = Number(match[1]) * 60 + Number(match[2])
  return minutes > 1440 ? undefined : minutes
}

/**
 * A range as Alertmanager writes it: `monday:friday`, `1:5`, `-7:-1`, or
 * one value; `names` (lower case) are read as their index plus `offset`
 * (months count from 1). Undefined when it is not one, or runs backwards.
 */
export function rangeOf (text: string, names: readonly string[], offset: number, min: number, max: number): Range | undefined {
  const value = (word: string): number | undefined => {
    const lower = word.trim().toLowerCase()
    const named = names.indexOf(lower)
    if (named >= 0) return named + offset
    if (!/^-?\d{1,2}$/.test(lower)) return undefined
    const n = Number(lower)
    return n >= min && n <= max && n !== 0 ? n : undefined
  }
  const [first, second, extra] = text.split(':')
  if (extra !== undefined || first === undefined) return undefined
  const from = value(first)
  const to = second === undefined ? from : value(second)
  if (from === undefined || to === undefined) return undefined
  // Days of the month: -3:-1 and 1:-1 run forwards; 5:-1 too (from the 5th to the last).
  if ((from < 0) === (to < 0) && from > to) return undefined
  if (from < 0 && to > 0) return undefined
  return [from, to]
}
