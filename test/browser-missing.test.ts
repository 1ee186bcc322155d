import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHROMIUM_FIX, findChromium } from './helpers/browser'

const root = join(__dirname, '..')

// Two tap runs of their own (a few seconds of CPU each) can take minutes on a loaded machine.
t.setTimeout(300_000)

function tempDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'browser-missing-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function fakeExecutable (dir: string, name: string): string {
  const file = join(dir, name)
  writeFileSync(file, '#!/bin/sh\n')
  chmodSync(file, 0o755)
  return file
}

t.test('CHROMIUM_PATH first, then /usr/bin/chromium, then a Chrome or Chromium on the PATH', async (t) => {
  const dir = tempDir(t)
  const nowhere = join(dir, 'nowhere', 'chromium')
  const configured = fakeExecutable(dir, 'my-chromium')
  const bin = join(dir, 'bin')
  const fallback = join(dir, 'usr-bin-chromium')
  mkdirSync(bin)
  const onPath = fakeExecutable(bin, 'google-chrome-stable')
  writeFileSync(join(bin, 'chromium'), 'not executable')

  t.same(findChromium({ CHROMIUM_PATH: configured, PATH: bin }, fallback), { path: configured })
  t.match(findChromium({ CHROMIUM_PATH: nowhere, PATH: bin }, fallback), { reason: `CHROMIUM_PATH=${nowhere} is not an executable file` },
    'a CHROMIUM_PATH that points nowhere is reported, not replaced by another browser')
  t.same(findChromium({ PATH: bin }, fallback), { path: onPath }, 'a non-executable chromium on the PATH is passed over')
  fakeExecutable(dir, 'usr-bin-chromium')
  t.same(findChromium({ PATH: bin }, fallback), { path: fallback }, 'the Debian path before the PATH')
  t.match(findChromium({ PATH: dir }, join(dir, 'none')), { reason: /^no Chromium found/ })
})

/** Runs tap on one browser test file as `npm test` would, with no browser to be found. */
async function runWithoutBrowser (t: { teardown: (fn: () => void) => void }, env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  const dir = tempDir(t)
  // A PATH with node on it and no browser.
  symlinkSync(process.execPath, join(dir, 'node'))
  const clean = Object.fromEntries(Object.entries(process.env)
    .filter(([key]) => !/^(TAP|_TAPJS|NODE_V8_COVERAGE$|CI$)/.test(key)))
  // A project folder of its own, made of links to this one: tap clears .tap/ in
  // the folder it runs in, which would throw away this run's coverage.
  const project = join(dir, 'project')
  mkdirSync(project)
  for (const entry of ['package.json', 'tsconfig.json', 'node_modules', 'test', 'plugins', 'schemas', 'routes', 'public', 'app.ts']) {
    symlinkSync(join(root, entry), join(project, entry))
  }
  const child = spawn(process.execPath, [join(root, 'node_modules', '.bin', 'tap'), '--disable-coverage', '-R', 'tap', 'test/docs-browser.test.ts'], {
    cwd: project,
    env: { ...clean, PATH: dir, CHROMIUM_PATH: join(dir, 'nowhere', 'chromium'), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (data: Buffer) => { output += data.toString() })
  child.stderr.on('data', (data: Buffer) => { output += data.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, output }
}

t.test('without a browser a developer\'s run skips the browser tests with one message; under CI it fails', async (t) => {
  // Both runs at once: each is mostly tap and TypeScript starting up.
  const [developer, ci] = await Promise.all([runWithoutBrowser(t, {}), runWithoutBrowser(t, { CI: '1' })])

  t.equal(developer.code, 0, 'the run passes')
  const skips = developer.output.split('\n').filter((line) => line.includes('browser tests skipped'))
  t.ok(skips.length >= 1, 'it says the browser tests were skipped')
  t.match(skips[0], 'CHROMIUM_PATH=', 'and why')
  t.match(skips[0], CHROMIUM_FIX, 'and how to run them')
  t.match(developer.output, /# SKIP/, 'the file is reported skipped')
  t.notMatch(developer.output, /not ok|executable doesn't exist|Error:/, 'no failure and no stack')

  t.not(ci.code, 0, 'under CI the run fails')
  t.match(ci.output, /not ok .*a Chromium to drive the browser tests/)
  t.match(ci.output, 'CI is set: the browser tests must run in CI')
  t.match(ci.output, CHROMIUM_FIX)
})
