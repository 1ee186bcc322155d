import t from 'tap'
import { createAgeQueue } from '../plugins/core/age-queue'

t.test('the oldest wanted id, whatever the order of pushes', async (t) => {
  const queue = createAgeQueue()
  queue.push('a', 1)
  queue.push('c', 3)
  queue.push('b', 2)
  queue.push('z', 0)
  const gone = new Set<string>()
  const wanted = (id: string): boolean => !gone.has(id)
  t.equal(queue.oldest(wanted), 'z', 'an older push goes to its place')
  gone.add('z')
  t.equal(queue.oldest(wanted), 'a')
  gone.add('a')
  gone.add('b')
  t.equal(queue.oldest(wanted), 'c', 'unwanted ids are skipped')
  t.equal(queue.length, 1, 'and dropped on the way')
  gone.add('c')
  t.equal(queue.oldest(wanted), undefined)
  t.equal(queue.length, 0)
  queue.push('d', 4)
  t.equal(queue.oldest(wanted), 'd', 'usable again once empty')
})

t.test('memory stays proportional to the ids wanted', async (t) => {
  const queue = createAgeQueue()
  const live = new Set<string>()
  for (let i = 0; i < 10_000; i++) {
    queue.push(String(i), i)
    live.add(String(i))
    // Ids leave from the middle, as resolved alerts do.
    if (i % 10 !== 0) live.delete(String(i))
    queue.prune((id) => live.has(id), live.size)
  }
  t.ok(queue.length <= 2 * live.size + 64, `${queue.length} held for ${live.size} wanted`)
  t.equal(queue.oldest((id) => live.has(id)), '0')
  queue.prune((id) => live.has(id), live.size)
})

t.test('taking the oldest over many removed ids compacts the queue', async (t) => {
  const queue = createAgeQueue()
  for (let i = 0; i < 5000; i++) queue.push(String(i), i)
  let next = 0
  const wanted = (id: string): boolean => Number(id) >= next
  const wrong: number[] = []
  for (next = 0; next < 4000; next++) if (queue.oldest(wanted) !== String(next)) wrong.push(next)
  t.same(wrong, [], 'each time the oldest id still wanted')
  t.equal(queue.length, 1001, 'what was taken is dropped: the 1,000 ids left and the one taken last')
  queue.push('late', 2)
  t.equal(queue.oldest(() => true), 'late', 'an old push still finds its place after compaction')
})
