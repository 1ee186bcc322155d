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

  toArray (): T[] {
    const out: T[] = []
    for (let i = 0; i < this.length; i++) out.push(this.items[(this.start + i) % this.capacity] as T)
    return out
  }
}
