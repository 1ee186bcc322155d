/**
 * Time and timers, injectable so that tests move time by hand (a @tapjs/clock
 * Clock, adapted in test/helpers/clock.ts) instead of waiting for the wall clock.
 */
export interface Timer { unref: () => unknown }

export interface Timers {
  /** Milliseconds since the epoch, as Date.now(). */
  now: () => number
  setTimeout: (fn: () => void, ms: number) => Timer
  clearTimeout: (timer: Timer | undefined) => void
  setInterval: (fn: () => void, ms: number) => Timer
  clearInterval: (timer: Timer | undefined) => void
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined)
}

/** A check run again `periodMs` after each run ends (so runs never overlap), until stopped. */
export interface Repeating {
  start: () => void
  /** No run starts after this; resolves once the run in flight, if any, has settled (so that what it uses can then be closed). */
  stop: () => Promise<void>
}

/**
 * Runs `check` every `periodMs`, each run scheduled once the previous one has
 * settled; a failure is logged as `what failed` and the next run goes on.
 */
export function repeating (check: () => Promise<void>, periodMs: number, what: string, log: { warn: (obj: object, msg?: string) => void }, timers: Pick<Timers, 'setTimeout' | 'clearTimeout'>): Repeating {
  let timer: Timer | undefined
  let running = false
  let inFlight: Promise<void> | undefined
  function schedule (): void {
    timer = timers.setTimeout(() => {
      const run = check()
        .catch((err: unknown) => log.warn({ err }, `${what} failed`))
        .finally(() => {
          inFlight = undefined
          if (running) schedule()
        })
      inFlight = run
    }, periodMs)
    timer.unref()
  }
  return {
    start () {
      if (running) return
      running = true
      schedule()
    },
    async stop () {
      running = false
      timers.clearTimeout(timer)
      timer = undefined
      await inFlight
    }
  }
}
