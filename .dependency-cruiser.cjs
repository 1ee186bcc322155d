'use strict'

// The layers of the server, as rules `npm run layers` (part of `npm run check`)
// enforces on the sources. Each rule's comment is the sentence plugins/README.md
// and README.md's layout section state for it (test/layers.test.ts keeps the three
// in step): change one, change all three.

// A backend is plugins/core/NAME-backend.ts with its own folder plugins/core/NAME/.
const BACKEND = '^plugins/core/([a-z0-9-]+)(-backend[.]ts$|/)'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-fastify',
      comment: 'plugins/core imports nothing of Fastify at run time (`import type` only).',
      severity: 'error',
      from: { path: '^plugins/core/' },
      to: { path: '^node_modules/(fastify|fastify-plugin|@fastify/[^/]+)/', dependencyTypesNot: ['type-only'] }
    },
    {
      name: 'core-imports-no-app',
      comment: 'plugins/core imports nothing of plugins/app, plugins/external, routes, app.ts or server.ts.',
      severity: 'error',
      from: { path: '^plugins/core/' },
      to: { path: '^(plugins/(app|external)/|routes/|app[.]ts$|server[.]ts$)' }
    },
    {
      name: 'external-imports-no-app',
      comment: 'plugins/external imports nothing of plugins/app, routes or app.ts.',
      severity: 'error',
      from: { path: '^plugins/external/' },
      to: { path: '^(plugins/app/|routes/|app[.]ts$)' }
    },
    {
      name: 'app-imports-no-external',
      comment: 'plugins/app imports nothing of plugins/external: app.ts alone registers both.',
      severity: 'error',
      from: { path: '^plugins/app/' },
      to: { path: '^plugins/external/' }
    },
    {
      name: 'schemas-import-no-plugins',
      comment: 'schemas imports nothing of plugins, routes or app.ts.',
      severity: 'error',
      from: { path: '^schemas/' },
      to: { path: '^(plugins/|routes/|app[.]ts$)' }
    },
    {
      name: 'backend-imports-no-backend',
      comment: 'No backend (plugins/core/NAME-backend.ts with its folder plugins/core/NAME/) imports another backend.',
      severity: 'error',
      from: { path: BACKEND },
      to: { path: BACKEND, pathNot: '^plugins/core/$1(-backend[.]ts$|/)' }
    },
    {
      name: 'routes-import-no-backend',
      comment: 'routes import no backend: they use fastify.backend, which plugins/app/backend.ts chooses.',
      severity: 'error',
      from: { path: '^routes/' },
      to: { path: BACKEND }
    },
    {
      name: 'no-cycles',
      comment: 'No module imports itself through others (type imports included).',
      severity: 'error',
      from: {},
      to: { circular: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are seen, so that the cycle rule counts them and the
    // Fastify rule can tell them apart.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.cjs', '.json'] }
  }
}
