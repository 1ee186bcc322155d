/** An alert's timeline and the export, on the memory and SQLite stores. */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { build } from './helpers/app'
import { postAlert } from './helpers/http'
import { exportChunks, csvField } from '../plugins/core/history'
import type { StoredAlert } from '../plugins/core/backend'
import { stamp } from '../plugins/core/publisher'
import type { Alert } from '../schemas/events'

type Json = Record<string, any>

/** Python's csv module: a CSV reader this project did not write. */
function readCsv (text: string): string[][] {
  const result = spawnSync('python3', ['-c', 'import csv, sys, json; print(json.dumps(list(csv.reader(sys.stdin))))'], { input: text, encoding: 'utf8', timeout: 30_000 })
  if (result.status !== 0) throw new Error(result.stderr)
  return JSON.parse(result.stdout) as string[][]
}

for (const store of ['memory', 'sqlite'] as const) {
  const make = async (tt: Test): Promise<Awaited<ReturnType<typeof build>>> =>
    await build(tt, store === 'sqlite' ? { STORE: 'sqlite', DATA_DIR: tt.testdir() } : {})

  t.test(`${store}: an alert's timeline lists every change, oldest first, with who and why`, async (t) => {
    const app = await make(t)
    const raised = (await postAlert(app, { message: 'disk 90%', location: 'db1', key: 'disk', severity: 'warning' })).json()
    await postAlert(app, { message: 'disk 97%', location: 'db1', key: 'disk', severity: 'critical', tags: ['db'] })
    await app.inject({ method: 'POST', url: `/alerts/${raised.id as string}/ack`, payload: { by: 'ana', note: 'cleaning logs' } })
    await app.inject({ method: 'POST', url: '/alerts/resolve', payload: { key: 'disk', by: 'bo', note: 'freed 40 GB' } })
    const res = await app.inject(`/alerts/${(raised.id as string).toUpperCase()}/timeline`)
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.match(body.alert, { id: raised.id, state: 'resolved', count: 2, notes: [{ by: 'ana', action: 'acknowledged', text: 'cleaning logs' }, { by: 'bo', action: 'resolved', text: 'freed 40 GB' }] })
    t.same(body.timeline.map((e: Json) => e.kind), ['raised', 'repeated', 'acknowledged', 'resolved'])
    t.match(body.timeline[1], { count: 2, severity: 'critical', message: 'disk 97%', previous: { severity: 'warning' } })
    t.match(body.timeline[2], { by: 'ana', note: 'cleaning logs', state: 'acknowledged' })
    t.match(body.timeline[3], { by: 'bo', note: 'freed 40 GB', state: 'resolved' })
    t.equal(body.count, 4)
    t.equal(body.complete, true)
    t.match((await app.inject('/alerts/00000000-0000-4000-8000-000000000000/timeline')).json(), { statusCode: 404, code: 'ALERT_NOT_FOUND' })
    t.match((await app.inject('/alerts/not-a-uuid/timeline')).json(), { statusCode: 400, code: 'VALIDATION_FAILED' })
  })

  t.test(`${store}: the export, NDJSON and CSV, with the board's filters and a time range`, async (t) => {
    const app = await make(t)
    const hostile = 'a, "quoted" message\nwith a second line\r\nand, more'
    const a = (await postAlert(app, { message: hostile, location: 'Paris, France', severity: 'critical', tags: ['db', 'eu'], link: 'https://example.com/x?a=1,2' })).json()
    const b = (await postAlert(app, { message: 'plain', location: 'x', severity: 'info' })).json()
    await app.inject({ method: 'POST', url: `/alerts/${a.id as string}/ack`, payload: { by: 'ana', note: 'said "hi", left' } })

    const ndjson = await app.inject('/alerts/export')
    t.equal(ndjson.statusCode, 200)
    t.match(ndjson.headers['content-type'], /^application\/x-ndjson/)
    t.match(ndjson.headers['content-disposition'], /^attachment; filename="alerts-\d{4}-\d\d-\d\d\.ndjson"$/)
    const lines = ndjson.body.trim().split('\n').map((line) => JSON.parse(line) as Json)
    t.same(lines.map((l) => l.id), [b.id, a.id], 'newest first')
    const board = (await app.inject('/alerts')).json().alerts
    t.same(lines, board, 'each line is the alert as the board shows it')

    const csv = await app.inject('/alerts/export?format=csv')
    t.match(csv.headers['content-type'], /^text\/csv; charset=utf-8/)
    const rows = readCsv(csv.body)
    const header = rows[0] as string[]
    t.same(header.slice(0, 6), ['id', 'timestamp', 'updatedAt', 'state', 'severity', 'message'])
    t.equal(rows.length, 3, 'a header and two records, the line breaks inside a field kept inside it')
    const record = Object.fromEntries(header.map((name, i) => [name, (rows[2] as string[])[i]]))
    t.match(record, { id: a.id, message: hostile, location: 'Paris, France', tags: 'db; eu', link: 'https://example.com/x?a=1,2', state: 'acknowledged', acknowledgedBy: 'ana' })
    t.match(JSON.parse(record.notes as string), [{ text: 'said "hi", left' }])

    t.same((await app.inject('/alerts/export?severity=critical')).body.trim().split('\n').map((l) => JSON.parse(l).id), [a.id], 'filtered')
    t.same((await app.inject('/alerts/export?min_severity=warning&format=csv')).body.split('\r\n').length, 3 + 1, 'header, one record (of two lines)... and the final CRLF')
    t.equal((await app.inject('/alerts/export?until=2000-01-01T00:00:00Z')).body, '', 'nothing raised before 2000')
    t.equal((await app.inject('/alerts/export?since=1h')).body.trim().split('\n').length, 2, 'both raised within the hour')
    t.equal((await app.inject('/alerts/export?since=2100-01-01T00:00:00Z')).body, '', 'none after 2100')
    t.equal((await app.inject('/alerts/export?format=csv&since=2100-01-01T00:00:00Z')).body, `${header.join(',')}\r\n`, 'a CSV export of nothing is its header')
  })
}

t.test('the export refuses what it cannot read, with the parameter named', async (t) => {
  const app = await build(t)
  const refused = async (query: string): Promise<Json> => (await app.inject(`/alerts/export?${query}`)).json()
  t.match(await refused('format=xml'), { statusCode: 400, code: 'VALIDATION_FAILED', message: /format/ })
  t.match(await refused('since=00000000-0000-4000-8000-000000000000'), { statusCode: 400, code: 'INVALID_QUERY', message: /^querystring\/since must be a duration back from now/ })
  t.match(await refused('until=yesterday'), { statusCode: 400, code: 'INVALID_QUERY', message: /^querystring\/until/ })
  t.match(await refused('state=closed'), { statusCode: 400, code: 'INVALID_QUERY', message: /querystring\/state/ })
  t.match(await refused('since=1h&since=2h'), { statusCode: 400, code: 'INVALID_QUERY', message: 'querystring/since is given 2 times; give it once' })
  t.match(await refused(`location=${'x'.repeat(3000)}`), { statusCode: 400, code: 'VALIDATION_FAILED' })
})

t.test('the export reads a page only when the one before was taken', async (t) => {
  const alerts: StoredAlert[] = Array.from({ length: 2000 }, (_, i) => ({ alert: stamp({ type: 'alert', message: `m${i}`, location: 'x' }) as Alert, rev: '', seq: i }))
  let reads = 0
  const newest = async (count: number, before = Infinity): Promise<StoredAlert[]> => {
    reads++
    return alerts.filter((s) => s.seq < before).reverse().slice(0, count)
  }
  const chunks = exportChunks({ format: 'ndjson', newest, accept: () => true, pageSize: 100 })
  const first = await chunks.next()
  t.equal(first.value?.split('\n').length, 101, 'a page of 100')
  t.equal(reads, 1, 'one page read for one chunk taken')
  await chunks.next()
  t.equal(reads, 2)
  await chunks.return(undefined)
  let all = 0
  for await (const chunk of exportChunks({ format: 'ndjson', newest, accept: () => true, pageSize: 100 })) all += chunk.split('\n').length - 1
  t.equal(all, 2000, 'every alert, once')
})

t.test('CSV fields are quoted only when they must be', async (t) => {
  t.equal(csvField('plain'), 'plain')
  t.equal(csvField('a,b'), '"a,b"')
  t.equal(csvField('say "x"'), '"say ""x"""')
  t.equal(csvField('two\nlines'), '"two\nlines"')
  t.equal(csvField(''), '')
})
