import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

// The layer rules live in .dependency-cruiser.cjs (run by `npm run layers`);
// plugins/README.md and docs/development.md's layout section state them in words.

const root = join(__dirname, '..')
const ruleFile = join(root, '.dependency-cruiser.cjs')
interface Rule { name: string, comment: string }

const { forbidden } = require(ruleFile) as { forbidden: Rule[] }

/** The rules a markdown text lists, as `- \`name\`: comment` lines, in order. */
function stated (text: string): Rule[] {
  return [...text.matchAll(/^- `([a-z-]+)`: (.+)$/gm)].map((m) => ({ name: m[1] as string, comment: m[2] as string }))
}

t.test('plugins/README.md and docs/development.md state the rules of .dependency-cruiser.cjs, word for word', async (t) => {
  const rules = forbidden.map(({ name, comment }) => ({ name, comment }))
  t.ok(rules.length >= 8, 'the rule file has its rules')
  const plugins = readFileSync(join(root, 'plugins', 'README.md'), 'utf8').split(/^## /m).find((s) => s.startsWith('Rules')) ?? ''
  t.same(stated(plugins), rules, 'plugins/README.md, section Rules: change it with .dependency-cruiser.cjs')
  const layout = readFileSync(join(root, 'docs', 'development.md'), 'utf8').split(/^## /m).find((s) => s.startsWith('Layout')) ?? ''
  t.same(stated(layout), rules, 'docs/development.md, section Layout: change it with .dependency-cruiser.cjs')
})

/** Runs the project's dependency-cruiser, with its rule file, on a tree of files; its report and whether it passed. */
async function cruise (files: Record<string, string>): Promise<{ ok: boolean, report: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'))
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), text)
    }
    writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(root, 'tsconfig.json')))
    writeFileSync(join(dir, '.dependency-cruiser.cjs'), readFileSync(ruleFile))
    // Stand-ins of Fastify's packages where the project has them (a link to the
    // real node_modules would resolve outside the tree).
    for (const name of ['fastify', 'fastify-plugin']) {
      mkdirSync(join(dir, 'node_modules', name), { recursive: true })
      writeFileSync(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, main: 'index.js', types: 'index.d.ts' }))
      writeFileSync(join(dir, 'node_modules', name, 'index.js'), 'module.exports = {}\n')
      writeFileSync(join(dir, 'node_modules', name, 'index.d.ts'), 'export interface FastifyInstance { x: number }\ndeclare const fp: unknown\nexport default fp\n')
    }
    const folders = [...new Set(Object.keys(files).map((path) => path.split('/')[0] as string))]
    return await new Promise((resolve) => {
      execFile(process.execPath, [join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), '--config', '.dependency-cruiser.cjs', ...folders],
        { cwd: dir }, (err, stdout, stderr) => { resolve({ ok: err === null, report: stdout + stderr }) })
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

t.test('each rule fails on the import it forbids, naming itself', async (t) => {
  const { ok, report } = await cruise({
    'plugins/core/fastify-user.ts': "import fp from 'fastify-plugin'\nexport const x = fp\n",
    'plugins/core/app-user.ts': "import { y } from '../app/thing'\nexport const x = y\n",
    'plugins/app/thing.ts': "import { z } from '../external/wrapper'\nexport const y = z\n",
    'plugins/external/wrapper.ts': 'export const z = 1\n',
    'plugins/external/app-user.ts': "import { w } from '../app/other'\nexport const x = w\n",
    'plugins/app/other.ts': 'export const w = 1\n',
    'schemas/plugin-user.ts': "import { v } from '../plugins/core/tool'\nexport const x = v\n",
    'plugins/core/tool.ts': 'export const v = 1\n',
    'plugins/core/one-backend.ts': "import { u } from './two-backend'\nexport const x = u\n",
    'plugins/core/two-backend.ts': "import { s } from './three/part'\nexport const u = s\n",
    'plugins/core/three/part.ts': 'export const s = 1\n',
    'routes/backend-user.ts': "import { u } from '../plugins/core/two-backend'\nexport const x = u\n",
    'plugins/core/ping.ts': "import { b } from './pong'\nexport const a = b\n",
    'plugins/core/pong.ts': "import { a } from './ping'\nexport const b = (): unknown => a\n"
  })
  t.notOk(ok, 'the check fails')
  for (const [rule, from, to] of [
    ['core-imports-no-fastify', 'plugins/core/fastify-user.ts', 'node_modules/fastify-plugin/'],
    ['core-imports-no-app', 'plugins/core/app-user.ts', 'plugins/app/thing.ts'],
    ['external-imports-no-app', 'plugins/external/app-user.ts', 'plugins/app/other.ts'],
    ['app-imports-no-external', 'plugins/app/thing.ts', 'plugins/external/wrapper.ts'],
    ['schemas-import-no-plugins', 'schemas/plugin-user.ts', 'plugins/core/tool.ts'],
    ['backend-imports-no-backend', 'plugins/core/one-backend.ts', 'plugins/core/two-backend.ts'],
    ['backend-imports-no-backend', 'plugins/core/two-backend.ts', 'plugins/core/three/part.ts'],
    ['routes-import-no-backend', 'routes/backend-user.ts', 'plugins/core/two-backend.ts'],
    ['no-cycles', 'plugins/core/ping.ts', 'plugins/core/pong.ts']
  ] as const) {
    // A cycle is reported over several lines.
    t.match(report.replace(/ →\s+/g, ' → '), `error ${rule}: ${from} → ${to}`, `${rule}: ${from} → ${to}`)
  }
})

t.test('what the rules allow passes', async (t) => {
  const { ok, report } = await cruise({
    // A type from Fastify, a backend's own folder, the seam and shared modules.
    'plugins/core/typed.ts': "import type { FastifyInstance } from 'fastify'\nexport type X = FastifyInstance\n",
    'plugins/core/backend.ts': 'export interface Backend { kind: string }\n',
    'plugins/core/sqlite-backend.ts': "import type { Backend } from './backend'\nimport { part } from './sqlite/part'\nimport { v } from './tool'\nexport const b: Backend = { kind: part + v }\n",
    'plugins/core/sqlite/part.ts': "import { v } from '../tool'\nexport const part = v\n",
    'plugins/core/tool.ts': "import { s } from '../../schemas/shared'\nexport const v = s\n",
    'schemas/shared.ts': "export const s = 'x'\n",
    'plugins/external/wrapper.ts': "import { v } from '../core/tool'\nimport { s } from '../../schemas/shared'\nexport const z = v + s\n",
    'plugins/app/chooser.ts': "import { b } from '../core/sqlite-backend'\nexport const y = b\n",
    'routes/route.ts': "import type { Backend } from '../plugins/core/backend'\nimport { y } from '../plugins/app/chooser'\nexport const r: Backend = y\n"
  })
  t.ok(ok, report)
})
