/**
 * Names by deadline, earliest first: a binary min-heap that knows where each
 * name sits, so that moving or removing one costs O(log n), and reading the
 * due ones costs only as many steps as there are due (and their children).
 */
export interface DeadlineHeap {
  /** Adds the name, or moves it to its new deadline. */
  set: (name: string, deadline: number) => void
  delete: (name: string) => void
  /** The names whose deadline is at or before `now`, earliest first. */
  due: (now: number) => string[]
  readonly size: number
}

export function createDeadlineHeap (): DeadlineHeap {
  const names: string[] = []
  const deadlines: number[] = []
  const position = new Map<string, number>()

  function swap (i: number, j: number): void {
    const [a, b] = [names[i] as string, names[j] as string];
    [names[i], names[j]] = [b, a];
    [deadlines[i], deadlines[j]] = [deadlines[j] as number, deadlines[i] as number]
    position.set(b, i)
    position.set(a, j)
  }

  function up (i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((deadlines[parent] as number) <= (deadlines[i] as number)) return
      swap(i, parent)
      i = parent
    }
  }

  function down (i: number): void {
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let least = i
      if (left < names.length && (deadlines[left] as number) < (deadlines[least] as number)) least = left
      if (right < names.length && (deadlines[right] as number) < (deadlines[least] as number)) least = right
      if (least === i) return
      swap(i, least)
      i = least
    }
  }

  return {
    set (name, deadline) {
      const at = position.get(name)
      if (at === undefined) {
        names.push(name)
        deadlines.push(deadline)
        position.set(name, names.length - 1)
        up(names.length - 1)
        return
      }
      deadlines[at] = deadline
      up(at)
      down(position.get(name) as number)
    },
    delete (name) {
      const at = position.get(name)
      if (at === undefined) return
      const last = names.length - 1
      if (at !== last) swap(at, last)
      names.pop()
      deadlines.pop()
      position.delete(name)
      if (at < names.length) {
        up(at)
        down(position.get(names[at] as string) as number)
      }
    },
    due (now) {
      // A subtree whose root is not due holds nothing due.
      const found: Array<[number, string]> = []
      const stack = names.length > 0 ? [0] : []
      for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
        if (i >= names.length || (deadlines[i] as number) > now) continue
        found.push([deadlines[i] as number, names[i] as string])
        stack.push(2 * i + 1, 2 * i + 2)
      }
      return found.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)).map(([, name]) => name)
    },
    get size () { return names.length }
  }
}
