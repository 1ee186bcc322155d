import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { ConfigSchema } from '../schemas/config'
import { END, README, START, allowedOf, configTable, updateReadme, withTable } from '../scripts/config-table'

t.test('the README configuration table is the one the schema gives (npm run docs:config rewrites it)', async (t) => {
  const readme = readFileSync(README, 'utf8')
  t.ok(readme.includes(START) && readme.includes(END), 'README.md has both markers')
  t.equal(withTable(readme, configTable()), readme, 'README.md is up to date with schemas/config.ts; run `npm run docs:config`')
})

t.test('every setting of the schema has a row with its default, and nothing else does', async (t) => {
  const table = configTable()
  const names = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1])
  t.same(names, Object.keys(ConfigSchema.properties))
  t.match(table, /^\| `PORT` \| `8000` \| integer 0–65535 \| /m)
  t.match(table, /^\| `API_TOKEN` \| \(none\) \| text \| /m, 'an empty default reads as none')
})

t.test('a setting added to the schema shows up, and one without a description is refused', async (t) => {
  const extended = Type.Object({
    ...ConfigSchema.properties,
    REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 30000, description: 'Longest a request | its body may take.' })
  })
  t.match(configTable(extended), /^\| `REQUEST_TIMEOUT_MS` \| `30000` \| integer ≥ 0 \| Longest a request \\\| its body may take\. \|$/m)
  const undescribed = Type.Object({ ...ConfigSchema.properties, NEW_SETTING: Type.String({ default: 'x' }) })
  t.throws(() => configTable(undescribed), /give NEW_SETTING a description/)
})

t.test('what each kind of setting allows reads in words', async (t) => {
  t.equal(allowedOf(Type.Boolean()), '`true`, `false`')
  t.equal(allowedOf(Type.Number({ exclusiveMinimum: 0 })), 'number > 0')
  t.equal(allowedOf(Type.Integer({ maximum: 9 })), 'integer ≤ 9')
  t.equal(allowedOf(Type.Integer()), 'integer')
  t.equal(allowedOf(Type.Union([Type.Literal('a'), Type.Literal('b')])), '`a`, `b`')
  t.equal(allowedOf(Type.String({ minLength: 1 })), 'text, not empty')
  t.equal(allowedOf(Type.Array(Type.String())), '')
})

t.test('the generator rewrites only the text between the markers, once', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'README.md')
  const before = `# Title\n\nintro\n\n${START}\n\n| stale | table |\n\n${END}\n\nafter\n`
  writeFileSync(file, before)
  t.equal(updateReadme(file), true, 'a stale table is rewritten')
  const after = readFileSync(file, 'utf8')
  t.ok(after.startsWith('# Title\n\nintro\n\n' + START + '\n\n| variable | default | allowed | meaning |'))
  t.ok(after.endsWith(`|\n\n${END}\n\nafter\n`))
  t.notMatch(after, /stale/)
  t.equal(updateReadme(file), false, 'a second run changes nothing')
  t.equal(readFileSync(file, 'utf8'), after)
})

t.test('a README without the markers is refused, not rewritten', async (t) => {
  t.throws(() => withTable('# no markers\n', '| x |'), /markers .* are missing or out of order/)
  t.throws(() => withTable(`${END}\n${START}\n`, '| x |'), /out of order/)
})
