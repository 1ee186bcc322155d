'use strict'

const neostandard = require('neostandard')
// The browser globals of the dashboard's script (public/app.js).
const globals = require('globals')

// neostandard (the style of the Fastify organisation), with TypeScript.
module.exports = [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'bench/.build/**', 'bench/results/**', 'node_modules/**']
  }),
  {
    rules: {
      // `void promise` marks a promise left to run on purpose, as a statement only.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // A TypeBox schema and its static type share a name (`const X = Type.Object(...)`,
      // `type X = Static<typeof X>`); real redeclarations are compile errors already.
      '@typescript-eslint/no-redeclare': 'off'
    }
  },
  {
    // The dashboard runs in the browser.
    files: ['public/**/*.js'],
    languageOptions: { globals: globals.browser }
  }
]
