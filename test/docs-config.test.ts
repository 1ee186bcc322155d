import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { ConfigSchema } from '../schemas/config'
import { CONFIG_DOC, END, START, configTable, updateTable, withTable } from '../scripts/config-table'
import { allowed } from '../plugins/app/config'

t.test('the configuration table of docs/configuration.md is the one the schema gives (npm run docs:config rewrites it)', async (t) => {
  const readme = readFileSync(CONFIG_DOC, 'utf8')
  t.ok(readme.includes(START) && readme.includes(END), 'docs/configuration.md has both markers')
  t.equal(withTable(readme, configTable()), readme, 'docs/configuration.md is up to date with schemas/config.ts; run `npm run docs:config`')
})

t.test('every setting of the schema has a row with its default, and nothing else does', async (t) => {
  const table = configTable()
  const names = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1])
  t.same(names, Object.keys(ConfigSchema.properties))
  t.match(table, /^\| `PORT` \| `8000` \| a whole number from 0 to 65535 \| /m)
  t.match(table, /^\| `API_TOKEN` \| \(none\) \| text \| /m, 'an empty default reads as none')
})

t.test('a setting added to the schema shows up, and one without a description is refused', async (t) => {
  const extended = Type.Object({
    ...ConfigSchema.properties,
    REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 30000, description: 'Longest a request | its body may take.' })
  })
  t.match(configTable(extended), /^\| `REQUEST_TIMEOUT_MS` \| `30000` \| a whole number of at least 0 \| Longest a request \\\| its body may take\. \|$/m)
  const undescribed = Type.Object({ ...ConfigSchema.properties, NEW_SETTING: Type.String({ default: 'x' }) })
  t.throws(() => configTable(undescribed), /give NEW_SETTING a description/)
})

t.test('what a setting allows reads as the start-up error for it says', async (t) => {
  const rows = configTable().split('\n')
  for (const name of Object.keys(ConfigSchema.properties)) {
    const row = rows.find((r) => r.startsWith(`| \`${name}\` |`)) ?? ''
    t.equal(row.split(' | ')[2], allowed(name).replace(/\|/g, '\\|'), name)
  }
})

t.test('the generator rewrites only the text between the markers, once', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'configuration.md')
  const before = `# Title\n\nintro\n\n${START}\n\n| stale | table |\n\n${END}\n\nafter\n`
  writeFileSync(file, before)
  t.equal(updateTable(file), true, 'a stale table is rewritten')
  const after = readFileSync(file, 'utf8')
  t.ok(after.startsWith('# Title\n\nintro\n\n' + START + '\n\n| variable | default | allowed | meaning |'))
  t.ok(after.endsWith(`|\n\n${END}\n\nafter\n`))
  t.notMatch(after, /stale/)
  t.equal(updateTable(file), false, 'a second run changes nothing')
  t.equal(readFileSync(file, 'utf8'), after)
})

t.test('a page without the markers is refused, not rewritten', async (t) => {
  t.throws(() => withTable('# no markers\n', '| x |'), /markers .* are missing or out of order/)
  t.throws(() => withTable(`${END}\n${START}\n`, '| x |'), /out of order/)
})
