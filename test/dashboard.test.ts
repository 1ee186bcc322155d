import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from './helpers/app'
import { publicDir } from '../plugins/external/dashboard'

const PUBLIC = join(__dirname, '..', 'public')

const files: Array<[path: string, file: string, type: RegExp]> = [
  ['/', 'index.html', /^text\/html; charset=utf-8$/],
  ['/index.html', 'index.html', /^text\/html; charset=utf-8$/],
  ['/app.js', 'app.js', /^(application|text)\/javascript; charset=utf-8$/],
  ['/style.css', 'style.css', /^text\/css; charset=utf-8$/],
  ['/favicon.svg', 'favicon.svg', /^image\/svg\+xml/]
]

t.test('the dashboard and its files are served with their content types', async (t) => {
  const app = await build(t)
  for (const [path, file, type] of files) {
    const res = await app.inject(path)
    t.equal(res.statusCode, 200, path)
    t.match(res.headers['content-type'], type, path)
    t.equal(res.body, readFileSync(join(PUBLIC, file), 'utf8'), `${path} is public/${file}`)
  }
})

t.test('HEAD / answers like GET without a body', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.equal(res.body, '')
})

t.test('the dashboard files carry the security headers', async (t) => {
  const app = await build(t)
  for (const [path] of files) {
    const res = await app.inject(path)
    t.equal(res.headers['x-content-type-options'], 'nosniff', path)
    t.equal(res.headers['x-frame-options'], 'DENY', path)
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', path)
    const csp = String(res.headers['content-security-policy'])
    t.match(csp, /default-src 'self'/, path)
    t.match(csp, /script-src 'self'/, path)
    t.notMatch(csp, /script-src[^;]*'unsafe-inline'/, `${path}: no inline scripts allowed`)
  }
})

t.test('the page has no inline script, no inline handler and nothing from another origin', async (t) => {
  const app = await build(t)
  const html = (await app.inject('/')).body
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
  t.ok(scripts.length > 0, 'has a script')
  for (const [, attributes, body] of scripts) {
    t.match(attributes, /\bsrc="[^"]+"/, 'every script is a file')
    t.equal(body?.trim(), '', 'and has no inline code')
  }
  t.notMatch(html, /\son[a-z]+\s*=/i, 'no inline event handler attribute')
  t.notMatch(html, /javascript:/i, 'no javascript: URL')
  t.notMatch(html, /<style\b/i, 'no inline style element')
  // src, href and action are all relative: same origin.
  for (const [, attr, value] of html.matchAll(/\b(src|href|action)="([^"]*)"/gi)) {
    t.notMatch(value, /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i, `${String(attr)}="${String(value)}" stays on the server`)
  }
})

t.test('no file of the dashboard refers to another origin', async (t) => {
  // The SVG namespace is a name, never fetched.
  const allowed = new Set(['http://www.w3.org/2000/svg'])
  for (const file of readdirSync(PUBLIC)) {
    const text = readFileSync(join(PUBLIC, file), 'utf8')
    const urls = [...text.matchAll(/(?:https?:|wss?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'")]*/gi)].map((m) => m[0])
    t.same(urls.filter((u) => !allowed.has(u)), [], `${file} has no outside URL`)
    t.notMatch(text, /@import|url\(\s*['"]?(?:https?:)?\/\//i, `${file} imports nothing from outside`)
  }
  const js = readFileSync(join(PUBLIC, 'app.js'), 'utf8')
  t.notMatch(js, /\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write/, 'app.js never writes HTML')
  t.notMatch(js, /\beval\(|new Function\(/, 'app.js evaluates no strings')
})

t.test('unknown paths keep the JSON 404 and the API is untouched', async (t) => {
  const app = await build(t)
  for (const path of ['/nope.js', '/public/index.html', '/%2e%2e/package.json', '/..%2fpackage.json', '/app.ts']) {
    const res = await app.inject(path)
    t.equal(res.statusCode, 404, path)
    t.match(res.json(), { statusCode: 404, error: 'Not Found' }, path)
  }
  const history = await app.inject('/alerts/history')
  t.equal(history.statusCode, 200)
  t.same(history.json(), { alerts: [], count: 0 })
  t.equal((await app.inject('/docs/json')).statusCode, 200)
})

t.test('the static routes are not in the OpenAPI document', async (t) => {
  const app = await build(t)
  const paths = Object.keys((await app.inject('/docs/json')).json().paths)
  t.notOk(paths.includes('/'), '/ is not documented')
  t.notOk(paths.some((p) => p.endsWith('.js') || p.endsWith('.css')), 'no file route is documented')
})

t.test('public/ is found from the sources and from the compiled dist/', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dashboard-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'public'))
  writeFileSync(join(root, 'public', 'index.html'), '<!doctype html>')
  mkdirSync(join(root, 'plugins'))
  mkdirSync(join(root, 'dist', 'plugins'), { recursive: true })
  t.equal(publicDir(join(root, 'plugins', 'external')), join(root, 'public'), 'from plugins/external/')
  t.equal(publicDir(join(root, 'dist', 'plugins', 'external')), join(root, 'public'), 'from dist/plugins/external/')
  t.equal(publicDir(), PUBLIC, 'this checkout')
  t.throws(() => publicDir(join(root, 'x', 'y', 'a', 'b')), /no index\.html/, 'a clear error when there is none')
})
