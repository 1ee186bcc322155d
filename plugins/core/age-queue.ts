/**
 * Ids in order of age (a sequence number), oldest first, with lazy removal:
 * the owner says which ids are still wanted, and unwanted ones are skipped
 * and dropped when met. Taking the oldest is O(1) amortized, however many
 * ids were removed before it.
 *
 * Why not a Set in insertion order: V8 keeps a deleted entry of a Map or Set
 * as a hole until the table is rebuilt, and iteration walks the holes, so
 * "the first entry" after many deletions at the front costs as many steps as
 * there are holes: with thousands of open alerts, a scan on every append.
 */
export interface AgeQueue {
  /** Adds an id at the place of its age (nearly always the end). */
  push: (id: string, seq: number) => void
  /** The oldest id `wanted` accepts; the unwanted ones before it are dropped. */
  oldest: (wanted: (id: string) => boolean) => string | undefined
  /** Drops every unwanted id once they are more than the wanted `live` ones (plus some slack): memory stays O(live). */
  prune: (wanted: (id: string) => boolean, live: number) => void
  /** Ids held, wanted or not. */
  readonly length: number
}

export function createAgeQueue (): AgeQueue {
  let ids: string[] = []
  let seqs: number[] = []
  let head = 0

  function compact (): void {
    ids = ids.slice(head)
    seqs = seqs.slice(head)
    head = 0
  }

  return {
    get length () { return ids.length - head },

    push (id, seq) {
      let at = ids.length
      // An id older than the newest (an alert that changed severity) goes to its place.
      if (at > head && (seqs[at - 1] as number) > seq) {
        let lo = head
        let hi = at
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if ((seqs[mid] as number) > seq) hi = mid
          else lo = mid + 1
        }
        at = lo
      }
      ids.splice(at, 0, id)
      seqs.splice(at, 0, seq)
    },

    oldest (wanted) {
      while (head < ids.length) {
        const id = ids[head] as string
        if (wanted(id)) {
          if (head > 1024 && head * 2 > ids.length) compact()
          return id
        }
        head++
      }
      ids = []
      seqs = []
      head = 0
      return undefined
    },

    prune (wanted, live) {
      if (ids.length - head <= 2 * live + 64) return
      const keptIds: string[] = []
      const keptSeqs: number[] = []
      for (let i = head; i < ids.length; i++) {
        const id = ids[i] as string
        if (!wanted(id)) continue
        keptIds.push(id)
        keptSeqs.push(seqs[i] as number)
      }
      ids = keptIds
      seqs = keptSeqs
      head = 0
    }
  }
}
