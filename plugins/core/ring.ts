/** Fixed-capacity FIFO: O(1) push, the oldest item is dropped when full. */
export class Ring<T> {
  private readonly items: Array<T | undefined>
  private start = 0
  private length = 0

  constructor (readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity)
  }

  get size (): number { return this.length }

  /** Adds an item; returns the one it pushed out, if any. */
  push (item: T): T | undefined {
    if (this.length < this.capacity) {
      this.items[(this.start + this.length++) % this.capacity] = item
      return undefined
    }
    const evicted = this.items[this.start]
    this.items[this.start] = item
    this.start = (this.start + 1) % this.capacity
    return evicted
  }

  /** The item `i` places from the oldest (0), or undefined past the newest. */
  at (i: number): T | undefined {
    return i >= 0 && i < this.length ? this.items[(this.start + i) % this.capacity] : undefined
  }

  /** The place of the oldest item for which `after` is false, given that it is true for every item before it and false for every one after (size when none). */
  firstNot (after: (item: T) => boolean): number {
    let lo = 0
    let hi = this.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (after(this.items[(this.start + mid) % this.capacity] as T)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  toArray (): T[] {
    const out: T[] = []
    for (let i = 0; i < this.length; i++) out.push(this.items[(this.start + i) % this.capacity] as T)
    return out
  }
}
