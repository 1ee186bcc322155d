/**
 * The hostile-input tests again, every app in them on the SQLite store (each in
 * a fresh DATA_DIR, see testConfig in helpers/app.ts): lone surrogates and
 * invalid UTF-8, deep and broken bodies, slow bodies and headers, per-address
 * caps, junk frames and stalled replays hold there as they do in memory.
 * Descriptor exhaustion and shutdown with a half-open peer run on the real
 * server process, whose default store is SQLite (descriptors.test.ts,
 * server.test.ts).
 *
 * The imported files declare their tests at import; their apps are built when
 * the tests run, after TEST_STORE below is set.
 */
import tap from 'tap'
import { build } from './helpers/app'
import './security.test'
import './timeouts.test'
import './ws-limits.test'
import './fuzz.test'
import './ws-hostile.test'

process.env.TEST_STORE = 'sqlite'

tap.test('the apps of these tests run on SQLite', async (t) => {
  t.equal((await build(t)).backend.kind, 'sqlite')
})
