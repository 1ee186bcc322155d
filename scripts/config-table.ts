/**
 * Writes the configuration table of README.md from the configuration schema,
 * so that the documented defaults and meanings are the ones the server uses.
 * The table lives between two marker comments; nothing else in the README is
 * touched. test/docs-config.test.ts fails when the README is out of date.
 *
 *   npm run docs:config
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TObject, TSchema } from '@sinclair/typebox'
import { ConfigSchema } from '../schemas/config'

export const START = '<!-- config-table:start (generated from schemas/config.ts by `npm run docs:config`; edit the descriptions there) -->'
export const END = '<!-- config-table:end -->'

export const README = join(__dirname, '..', 'README.md')

/** Text in a table cell: a `|` would end the cell, a line break the row. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')

const code = (value: unknown): string => `\`${String(value)}\``

function defaultOf (schema: TSchema): string {
  const value: unknown = schema.default
  if (value === undefined || value === '') return '(none)'
  return code(value)
}

/** What the schema accepts, in words, for the kinds of schema the configuration uses. */
export function allowedOf (schema: TSchema): string {
  const values = enumOf(schema)
  if (values !== undefined) return values.map(code).join(', ')
  const { minimum, maximum, exclusiveMinimum } = schema as { minimum?: number, maximum?: number, exclusiveMinimum?: number }
  switch (schema.type) {
    case 'boolean':
      return '`true`, `false`'
    case 'integer':
    case 'number': {
      const kind = schema.type === 'integer' ? 'integer' : 'number'
      if (minimum !== undefined && maximum !== undefined) return `${kind} ${minimum}–${maximum}`
      if (minimum !== undefined) return `${kind} ≥ ${minimum}`
      if (exclusiveMinimum !== undefined) return `${kind} > ${exclusiveMinimum}`
      if (maximum !== undefined) return `${kind} ≤ ${maximum}`
      return kind
    }
    case 'string': {
      const { minLength, maxLength } = schema as { minLength?: number, maxLength?: number }
      if (maxLength !== undefined) return `text, ${minLength ?? 0}–${maxLength} characters`
      return minLength !== undefined && minLength > 0 ? 'text, not empty' : 'text'
    }
    default:
      return ''
  }
}

/** The values of an enum, or of a union of literals; undefined for anything else. */
function enumOf (schema: TSchema): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum as unknown[]
  const alternatives = (schema.anyOf ?? schema.oneOf) as TSchema[] | undefined
  if (alternatives !== undefined && alternatives.every((s) => 'const' in s)) return alternatives.map((s) => s.const)
  return undefined
}

/** The Markdown table of every setting of `schema`, in its order. Throws when a setting has no description. */
export function configTable (schema: TObject = ConfigSchema): string {
  const entries = Object.entries(schema.properties)
  const undescribed = entries.filter(([, s]) => typeof s.description !== 'string' || s.description.trim() === '').map(([name]) => name)
  if (undescribed.length > 0) {
    throw new Error(`schemas/config.ts: give ${undescribed.join(', ')} a description; it is the setting's line in the README`)
  }
  const rows = entries.map(([name, s]) =>
    `| \`${name}\` | ${cell(defaultOf(s))} | ${cell(allowedOf(s))} | ${cell(s.description as string)} |`)
  return ['| variable | default | allowed | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

/** The README with the text between the markers replaced by `table`. */
export function withTable (readme: string, table: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md: the markers ${START} and ${END} are missing or out of order`)
  return readme.slice(0, start + START.length) + '\n\n' + table + '\n\n' + readme.slice(end)
}

/** Rewrites the table in `file`; returns whether anything changed. */
export function updateReadme (file: string = README, schema: TObject = ConfigSchema): boolean {
  const before = readFileSync(file, 'utf8')
  const after = withTable(before, configTable(schema))
  if (after === before) return false
  writeFileSync(file, after)
  return true
}

if (require.main === module) {
  console.log(updateReadme() ? 'README.md: configuration table rewritten' : 'README.md: configuration table already up to date')
}
