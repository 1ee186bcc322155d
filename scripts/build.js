'use strict'

/**
 * npm run build (and so npm start): tsc with tsconfig.build.json, incremental,
 * then the Redis backend's Lua scripts copied beside the compiled code.
 *
 * tsc's incremental build trusts its build-info file: a file deleted from
 * dist/ (or put back from an older build) stays missing or stale as long as
 * its source is unchanged, and the server then dies on `Cannot find module`.
 * So first every source's output is looked at; when one is missing or older
 * than its source, the build-info file goes and tsc compiles everything.
 *
 * Then the Redis backend's Lua scripts (plugins/core/redis/*.lua) are copied
 * beside their compiled modules, where they are read at start.
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const TSCONFIG = 'tsconfig.build.json'

/** The .ts sources of a tsconfig's `include` (files and folders), relative to root. */
function sources (root, include) {
  const found = []
  const visit = (rel) => {
    const stat = fs.statSync(path.join(root, rel), { throwIfNoEntry: false })
    if (stat === undefined) return
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(path.join(root, rel))) visit(path.join(rel, entry))
    } else if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) {
      found.push(rel)
    }
  }
  for (const rel of include) visit(rel)
  return found
}

/** The sources whose compiled output is missing or older than the source. */
function staleOutputs (root, config) {
  const outDir = config.compilerOptions?.outDir ?? 'dist'
  return sources(root, config.include ?? []).filter((rel) => {
    const output = fs.statSync(path.join(root, outDir, rel.replace(/\.ts$/, '.js')), { throwIfNoEntry: false })
    return output === undefined || output.mtimeMs < fs.statSync(path.join(root, rel)).mtimeMs
  })
}

function main () {
  const root = process.cwd()
  const config = JSON.parse(fs.readFileSync(path.join(root, TSCONFIG), 'utf8'))
  // The output folder and build-info file come from the configuration this one extends when it does not set them.
  const base = config.extends === undefined ? {} : JSON.parse(fs.readFileSync(path.join(root, config.extends), 'utf8'))
  const compilerOptions = { ...base.compilerOptions, ...config.compilerOptions }
  const stale = staleOutputs(root, { include: config.include ?? base.include, compilerOptions })
  const buildInfo = compilerOptions.tsBuildInfoFile
  if (stale.length > 0 && buildInfo !== undefined && fs.existsSync(path.join(root, buildInfo))) {
    console.error(`build: ${stale.length} compiled file(s) missing or stale (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''}): compiling everything`)
    fs.rmSync(path.join(root, buildInfo))
  }
  const tsc = require.resolve('typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', TSCONFIG], { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
  // The Redis backend's Lua scripts are read at run time from beside the compiled code.
  const outDir = compilerOptions.outDir ?? 'dist'
  const lua = path.join(root, 'plugins/core/redis')
  if (fs.existsSync(lua)) fs.cpSync(lua, path.join(root, outDir, 'plugins/core/redis'), { recursive: true, filter: (from) => !from.endsWith('.ts') })
  process.exit(0)
}

main()
