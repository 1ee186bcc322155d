import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = join(__dirname, '..')
const readme = readFileSync(join(root, 'plugins', 'README.md'), 'utf8')

/** The files the `## <folder>/` (or `### core/<folder>/`) section of plugins/README.md lists in its table. */
function listed (folder: string): string[] {
  const section = readme.split(/^##+ /m).find((s) => s.startsWith(`${folder}/`) || s.startsWith(`core/${folder}/`)) ?? ''
  return [...section.matchAll(/^\| `([\w.-]+\.ts)` \|/gm)].map((m) => m[1] as string).sort()
}

for (const folder of ['external', 'app', 'core', 'core/redis']) {
  t.test(`plugins/README.md lists every file of plugins/${folder}/, and only those`, async (t) => {
    const files = readdirSync(join(root, 'plugins', folder)).filter((f) => f.endsWith('.ts')).sort()
    t.same(listed(folder.replace(/^core\//, '')), files, `add a line for each new file of plugins/${folder}/ to plugins/README.md`)
  })
}
