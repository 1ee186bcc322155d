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

/** Resolves once `condition()` holds (checked every few ms; it may read asynchronously), or rejects after a timeout. */
export async function waitFor (condition: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * What a client received and a test has not taken yet, in arrival order:
 * `next` waits for the next item without racing the socket that delivers it.
 */
export class Inbox<T> {
  readonly items: T[] = []
  private waiter: (() => void) | undefined

  /** `what` names an item in the timeout's message ("frame", "record"). */
  constructor (private readonly what: string) {}

  /** Queues an item and wakes a waiting `next`. */
  push (item: T): void {
    this.items.push(item)
    this.waiter?.()
  }

  /** The oldest item not taken yet, waiting for one up to `ms`. */
  async next (ms = WAIT_MS): Promise<T> {
    const deadline = Date.now() + ms
    while (this.items.length === 0) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for a ${this.what}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => { clearTimeout(timer); resolve() }
      })
      this.waiter = undefined
    }
    return this.items.shift() as T
  }
}
