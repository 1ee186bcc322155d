import { Cron, CronPattern } from 'croner'

/** The latest time a Date can hold: the deadline of a schedule with no occurrence left. */
export const LATEST = 8.64e15

// Parsed schedules, by zone and expression: a ping parses its monitor's again otherwise.
const parsed = new Map<string, Cron>()
const PARSED_MAX = 1000

function cronOf (expression: string, tz: string): Cron {
  const key = `${tz}\n${expression}`
  let cron = parsed.get(key)
  if (cron === undefined) {
    // No function: croner schedules nothing, it only reads the expression.
    cron = new Cron(expression, { timezone: tz })
    if (parsed.size >= PARSED_MAX) parsed.clear()
    parsed.set(key, cron)
  }
  return cron
}

// The most days each month can have (February in a leap year).
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Whether some date has a day of the month and a month the pattern allows.
 * Without it croner searches up to the year 3000 before it gives up (tens of
 * milliseconds), or overflows its stack: a hostile ping must not cost that.
 * With a weekday (or L) there is always such a date: only days of the month
 * alone can be impossible (the 31st of April, June, September, November).
 */
function someDateMatches (pattern: CronPattern): boolean {
  if (!pattern.starDOW || pattern.starDOM || pattern.lastDayOfMonth) return true
  return pattern.month.some((month, m) => month !== 0 && pattern.day.some((day, d) => day !== 0 && d < (MONTH_DAYS[m] as number)))
}

/** What is wrong with a cron expression in an IANA time zone, for people; undefined when it is usable (it parses, and occurs at least once from `now`). */
export function scheduleProblem (expression: string, tz: string, now: number): string | undefined {
  try {
    // Intl knows the zones croner can use; croner itself tells of a bad zone only for some expressions.
    new Intl.DateTimeFormat('en', { timeZone: tz }).format(0)
  } catch {
    return `tz ${JSON.stringify(tz)} is not an IANA time zone (such as Europe/Berlin or UTC)`
  }
  try {
    const cron = cronOf(expression, tz)
    return !someDateMatches(new CronPattern(expression, tz)) || cron.nextRun(new Date(now)) === null ? `schedule ${JSON.stringify(expression)} never occurs` : undefined
  } catch (err) {
    return `schedule ${JSON.stringify(expression)} is not a cron expression: ${(err as Error).message}`
  }
}

/** The first occurrence of a schedule after `after` (ms), or LATEST when none is left. Daylight-saving changes are the zone's: a time skipped runs at the same time after the change, a repeated one once. */
export function nextOccurrence (expression: string, tz: string, after: number): number {
  return cronOf(expression, tz).nextRun(new Date(after))?.getTime() ?? LATEST
}
