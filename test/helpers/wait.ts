// A limit for what should come, never a pause: generous, because test files run
// side by side and a busy machine can take seconds for what takes milliseconds.
export const WAIT_MS = 10_000

/** Resolves when `emitter` emits `event`, or rejects after a timeout. */
export function once<T = unknown> (emitter: NodeJS.EventEmitter, event: string, ms = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent)
      reject(new Error(`timed out waiting for ${event}`))
    }, ms)
    function onEvent (value: T): void {
      clearTimeout(timer)
      resolve(value)
    }
    emitter.once(event, onEvent)
  })
}

/** Resolves once `condition()` holds (checked every few ms), or rejects after a timeout. */
export async function waitFor (condition: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
