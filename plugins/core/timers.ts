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

/** Runs that timers started, kept until they settle: what a shutdown waits for before it closes what they use. */
export interface Runs {
  /** Keeps `run` until it settles (its outcome is its own to handle: a rejection is not reported here). */
  track: (run: Promise<unknown>) => void
  /** Resolves once every run kept now has settled. */
  settled: () => Promise<void>
}

export function createRuns (): Runs {
  const running = new Set<Promise<unknown>>()
  return {
    track (run) {
      const done = run.then(() => {}, () => {})
      running.add(done)
      void done.then(() => running.delete(done))
    },
    async settled () { await Promise.all(running) }
  }
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
  const runs = createRuns()
  function schedule (): void {
    timer = timers.setTimeout(() => {
      runs.track(check()
        .catch((err: unknown) => log.warn({ err }, `${what} failed`))
        .finally(() => { if (running) schedule() }))
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
      await runs.settled()
    }
  }
}
