import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'

/** Whether an error says the process (EMFILE) or the system (ENFILE) has no descriptor left. */
export function outOfDescriptors (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'EMFILE' || code === 'ENFILE'
}

/** The process's open-file limit (soft), or undefined where it cannot be read (not Linux) or is unlimited. */
export function descriptorLimit (limits = '/proc/self/limits'): number | undefined {
  try {
    const value = /^Max open files\s+(\S+)/m.exec(readFileSync(limits, 'utf8'))?.[1]
    return value === undefined || value === 'unlimited' ? undefined : Number(value)
  } catch {
    return undefined
  }
}

/**
 * Connections to accept under a descriptor limit: the rest is kept for what an
 * open connection may still need (Redis, the dashboard's files, logs, memory
 * samples), so the connections already open keep being served.
 */
export function connectionCap (limit: number): number | undefined {
  const cap = limit - Math.max(64, Math.ceil(limit / 20))
  return cap > 0 ? cap : undefined
}

/**
 * Reports events at most once per `intervalMs`: the first at once, later ones
 * counted and reported together when the interval is over, so a flood of them
 * (a refused connection each) costs one log line per interval.
 */
export function intervalReporter (intervalMs: number, report: (count: number) => void, now: () => number = () => performance.now()): { note: () => void, close: () => void } {
  let pending = 0
  let lastAt = -Infinity
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    timer = undefined
    if (pending === 0) return
    const count = pending
    pending = 0
    lastAt = now()
    report(count)
  }
  return {
    note () {
      pending += 1
      if (timer !== undefined) return
      const wait = lastAt + intervalMs - now()
      if (wait <= 0) flush()
      else timer = setTimeout(flush, wait).unref()
    },
    close () { clearTimeout(timer) }
  }
}

const memorySampleListeners = new Set<(err: Error) => void>()
let lastSample: NodeJS.MemoryUsage | undefined
let guarded = false

/**
 * process.memoryUsage() reads /proc/self/stat for the resident size, which takes
 * a descriptor: with none left it throws EMFILE, and a sampler calling it from a
 * timer (@fastify/under-pressure does, with no way to catch it) ends the
 * process. Once this has run, a sample taken without descriptors falls back to
 * V8's heap figures (which need none) and the last resident size seen, and
 * `listener` hears of it. Returns the function that stops the listening.
 */
export function onMemorySampleWithoutDescriptors (listener: (err: Error) => void): () => void {
  if (!guarded) guardMemoryUsage()
  memorySampleListeners.add(listener)
  return () => { memorySampleListeners.delete(listener) }
}

function guardMemoryUsage (): void {
  const original = process.memoryUsage
  const failed = (err: unknown): void => {
    if (!outOfDescriptors(err)) throw err
    for (const listener of memorySampleListeners) listener(err as Error)
  }
  const memoryUsage = (): NodeJS.MemoryUsage => {
    try {
      lastSample = original()
      return lastSample
    } catch (err) {
      failed(err)
      const heap = getHeapStatistics()
      return {
        rss: lastSample?.rss ?? 0,
        heapTotal: heap.total_heap_size,
        heapUsed: heap.used_heap_size,
        external: heap.external_memory,
        arrayBuffers: lastSample?.arrayBuffers ?? 0
      }
    }
  }
  memoryUsage.rss = (): number => {
    try {
      return original.rss()
    } catch (err) {
      failed(err)
      return lastSample?.rss ?? 0
    }
  }
  process.memoryUsage = memoryUsage
  guarded = true
}
