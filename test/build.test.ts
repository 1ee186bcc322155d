import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const BUILD = resolve(__dirname, '..', 'scripts', 'build.js')

// npm run build on a small project laid out as this one (a tsconfig.build.json
// extending tsconfig.json, an incremental build into dist/): real tsc, real files.
function project (): string {
  const dir = t.testdir({
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', outDir: 'dist', rootDir: '.', types: [], skipLibCheck: true } }),
    'tsconfig.build.json': JSON.stringify({ extends: './tsconfig.json', compilerOptions: { incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' }, include: ['main.ts', 'lib'] }),
    'main.ts': "import { answer } from './lib/answer'\nexport const main = answer + 1\n",
    lib: { 'answer.ts': 'export const answer = 41\n' }
  })
  mkdirSync(join(dir, 'dist'), { recursive: true })
  return dir
}

const build = async (cwd: string): Promise<{ stdout: string, stderr: string }> => await run(process.execPath, [BUILD], { cwd })

t.test('a compiled file deleted from dist/, or older than its source, is compiled again; an up-to-date build changes nothing', async (t) => {
  const dir = project()
  await build(dir)
  const deleted = join(dir, 'dist', 'lib', 'answer.js')
  t.ok(existsSync(deleted), 'the first build compiles everything')
  t.equal(Object.values(await build(dir)).join(''), '', 'a second build says nothing')

  rmSync(deleted)
  const { stderr } = await build(dir)
  t.ok(existsSync(deleted), 'the deleted file is back, although its source did not change')
  t.match(stderr, /1 compiled file\(s\) missing or stale \(lib\/answer\.ts\)/)

  // An older build's file put back in place: what it says no longer matches the source.
  const old = join(dir, 'dist', 'main.js')
  writeFileSync(old, 'exports.main = 0\n')
  utimesSync(old, new Date(1_000_000_000_000), new Date(1_000_000_000_000))
  await build(dir)
  t.match(readFileSync(old, 'utf8'), /answer_1\.answer \+ 1/)
})

t.test('a compile error fails the build', async (t) => {
  const dir = project()
  writeFileSync(join(dir, 'main.ts'), 'export const main: number = "not a number"\n')
  await t.rejects(build(dir), { code: 2 })
})
