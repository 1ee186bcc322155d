/**
 * Writes the configuration table of docs/configuration.md from the configuration schema,
 * so that the documented defaults and meanings are the ones the server uses,
 * and what each setting allows reads as in the start-up error for it.
 * The table lives between two marker comments; nothing else in the page is
 * touched. test/docs-config.test.ts fails when the page is out of date.
 *
 *   npm run docs:config
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TObject, TSchema } from '@sinclair/typebox'
import { ConfigSchema } from '../schemas/config'
import { allowedBy } from '../plugins/app/config'

export const START = '<!-- config-table:start (generated from schemas/config.ts by `npm run docs:config`; edit the descriptions there) -->'
export const END = '<!-- config-table:end -->'

export const CONFIG_DOC = join(__dirname, '..', 'docs', 'configuration.md')

/** Text in a table cell: a `|` would end the cell, a line break the row. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')

const code = (value: unknown): string => `\`${String(value)}\``

function defaultOf (schema: TSchema): string {
  const value: unknown = schema.default
  if (value === undefined || value === '') return '(none)'
  return code(value)
}

/** The Markdown table of every setting of `schema`, in its order. Throws when a setting has no description. */
export function configTable (schema: TObject = ConfigSchema): string {
  const entries = Object.entries(schema.properties)
  const undescribed = entries.filter(([, s]) => typeof s.description !== 'string' || s.description.trim() === '').map(([name]) => name)
  if (undescribed.length > 0) {
    throw new Error(`schemas/config.ts: give ${undescribed.join(', ')} a description; it is the setting's line in docs/configuration.md`)
  }
  const rows = entries.map(([name, s]) =>
    `| \`${name}\` | ${cell(defaultOf(s))} | ${cell(allowedBy(s as Parameters<typeof allowedBy>[0]))} | ${cell(s.description as string)} |`)
  return ['| variable | default | allowed | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

/** The page with the text between the markers replaced by `table`. */
export function withTable (readme: string, table: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end === -1 || end < start) throw new Error(`docs/configuration.md: the markers ${START} and ${END} are missing or out of order`)
  return readme.slice(0, start + START.length) + '\n\n' + table + '\n\n' + readme.slice(end)
}

/** Rewrites the table in `file`; returns whether anything changed. */
export function updateTable (file: string = CONFIG_DOC, schema: TObject = ConfigSchema): boolean {
  const before = readFileSync(file, 'utf8')
  const after = withTable(before, configTable(schema))
  if (after === before) return false
  writeFileSync(file, after)
  return true
}

if (require.main === module) {
  console.log(updateTable() ? 'docs/configuration.md: configuration table rewritten' : 'docs/configuration.md: configuration table already up to date')
}
