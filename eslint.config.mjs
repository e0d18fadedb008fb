import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/** Every Node built-in, bare and with the node: prefix (node: only modules such as node:test included). */
const nodeBuiltins = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '')))].flatMap((m) => [m, `node:${m}`]);

/** An import of a top-level folder (or a file in it) by a relative path from anywhere in the tree. */
const folder = (name, except = []) => `^(\\.\\./)+${name}(/(?!(${['$', ...except.map((f) => `${f}$`)].join('|')})).*)?$`;
const toActivities = {
  regex: folder('activities'),
  message: 'only the worker registers activities (workers/worker.ts, workers/deps.ts): Temporal client helpers live in temporal/',
};
const toWorkflows = { regex: folder('workflows'), message: 'activities and stores do not know workflows: shared types live in domain/' };
const toWorkflowCode = {
  regex: folder('workflows', ['messages']),
  allowTypeImports: true,
  message: 'outside the worker bundle, workflow code is imported as types only (start workflows through temporal/workflows.ts); messages.ts is shared',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', 'db/migrations/**', 'coverage/**', '.review-builds/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: no I/O, no Node built-ins, no store or gateway clients.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must be deterministic: no Node built-ins' })),
          patterns: [
            { group: ['pg', 'ioredis', 'drizzle-orm', 'drizzle-orm/*', 'stripe', 'nodemailer', '@elastic/*', 'express', 'pino'], message: 'no I/O in workflows: call an activity' },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'workflows import only @temporalio/workflow and @temporalio/common' },
            { group: ['../db/*', '../db', '../api/*', '../config'], message: 'workflows reach stores only through activities' },
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'import activities as types only (proxyActivities)' },
            { group: ['../temporal/*', '!../temporal/search-attributes'], message: 'workflows use only the search attribute keys from temporal/' },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use uuid4() from @temporalio/workflow' }],
    },
  },
  // Import boundaries: one direction of flow (docs/architecture.md).
  {
    files: ['api/**/*.ts', 'scripts/**/*.ts', 'workers/**/*.ts', 'temporal/**/*.ts'],
    // api/local-gateway-page.ts is the simulated processor's own 3-D Secure page (dev/test only)
    ignores: ['workers/worker.ts', 'workers/deps.ts', 'api/local-gateway-page.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [toActivities, toWorkflowCode] }] },
  },
  {
    // Use cases sit between the edge and Temporal: stores, the search engine, temporal/ helpers
    // and the domain; workflow code as types only (messages.ts is shared); never HTTP.
    files: ['usecases/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toActivities,
            toWorkflowCode,
            { regex: folder('api'), message: 'use cases know nothing of HTTP: return a result, the route maps it' },
            { group: ['express', 'express/*'], message: 'use cases know nothing of HTTP: return a result, the route maps it' },
          ],
        },
      ],
    },
  },
  {
    // Routes moved onto use cases: parse, call one use case, map its result (no store, no Temporal).
    files: ['api/routes/checkouts.ts', 'api/routes/refunds.ts', 'api/routes/admin.ts', 'api/routes/carts.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toActivities,
            { regex: folder('workflows'), message: 'a route calls a use case (usecases/), which talks to Temporal' },
            { regex: folder('temporal'), message: 'a route calls a use case (usecases/), which talks to Temporal' },
            { regex: folder('db'), allowTypeImports: true, message: 'a route calls a use case (usecases/), which reaches the stores' },
            { group: ['@temporalio/*'], message: 'a route calls a use case (usecases/), which talks to Temporal' },
          ],
        },
      ],
    },
  },
  {
    files: ['workers/worker.ts', 'workers/deps.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [toWorkflowCode] }] },
  },
  {
    files: ['activities/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [toWorkflows] }] },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toWorkflows,
            { regex: `(${folder('activities')})|(${folder('api')})|(${folder('temporal')})`, message: 'stores are the bottom layer: they import only db/, domain/ and config' },
          ],
        },
      ],
    },
  },
  {
    // The recommendation context owns its Redis keys only: orders reach it as values read by
    // activities (db/stores/order-purchases.ts), never as tables joined from its store.
    files: ['db/stores/recommendations.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toWorkflows,
            { regex: `(${folder('activities')})|(${folder('api')})|(${folder('temporal')})`, message: 'stores are the bottom layer: they import only db/, domain/ and config' },
            { regex: '^(\\.\\./)*(schema|client)(/.*)?$|^\\./(?!recommendations$)', message: 'the recommendation store reads no PostgreSQL table (no schema, no other store): activities pass it purchases' },
          ],
        },
      ],
    },
  },
  {
    // The domain is plain data and pure functions, imported by every layer.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'domain code is pure: no Node built-ins' })),
          patterns: [{ group: ['../*', '!../domain', '!../domain/*', '@temporalio/*'], message: 'domain/ imports nothing but domain/' }],
        },
      ],
    },
  },
);
