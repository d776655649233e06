// Dependency rule for src/ (the layering of the service).
//
//   domain  <-  ports  <-  engine
//      ^          ^
//      +-- adapters (implement ports)
//   http / cli / web      : never reach adapters, config or main directly
//   config                : read only by main (composition root)
//   main                  : imported by nothing else under src/
//
// Run: npx depcruise --config .dependency-cruiser.cjs src
'use strict';

/** Matches the folder `src/<name>/` or a sibling file `src/<name>.ts`. */
const area = (...names) => `^src/(${names.join('|')})(/|\\.[cm]?[jt]s$)`;

/** Node builtins that perform I/O or touch the process; forbidden in the domain. */
const IO_BUILTINS = [
  'async_hooks',
  'child_process',
  'cluster',
  'dgram',
  'diagnostics_channel',
  'dns',
  'fs',
  'http',
  'http2',
  'https',
  'inspector',
  'module',
  'net',
  'os',
  'perf_hooks',
  'process',
  'readline',
  'repl',
  'sqlite',
  'stream',
  'test',
  'timers',
  'tls',
  'trace_events',
  'tty',
  'v8',
  'vm',
  'wasi',
  'worker_threads',
  'zlib',
];

const NPM_TYPES = [
  'npm',
  'npm-dev',
  'npm-optional',
  'npm-peer',
  'npm-bundled',
  'npm-no-pkg',
  'npm-unknown',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Circular dependencies make layering and initialisation order unreliable.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'The import cannot be resolved (missing file or package not installed).',
      from: {},
      to: { couldNotResolve: true },
    },

    // ---- domain: pure logic ------------------------------------------------
    {
      name: 'domain-only-domain',
      severity: 'error',
      comment: 'src/domain is pure logic: it may import only from src/domain.',
      from: { path: area('domain') },
      to: { path: '^src/', pathNot: area('domain') },
    },
    {
      name: 'domain-no-io-builtins',
      severity: 'error',
      comment:
        'src/domain must not use Node builtins that do I/O (fs, net, http, child_process, ...).',
      from: { path: area('domain') },
      to: {
        dependencyTypes: ['core'],
        path: `^(node:)?(${IO_BUILTINS.join('|')})(/|$)`,
      },
    },
    {
      name: 'domain-npm-only-zod',
      severity: 'error',
      comment: 'src/domain may depend on no npm package except zod.',
      from: { path: area('domain') },
      to: { dependencyTypes: NPM_TYPES, pathNot: '(^|/)node_modules/zod/' },
    },

    // ---- engine / ports ----------------------------------------------------
    {
      name: 'engine-only-domain-ports',
      severity: 'error',
      comment:
        'src/engine may import only src/domain, src/ports and src/engine (plus npm packages).',
      from: { path: area('engine') },
      to: { path: '^src/', pathNot: area('domain', 'ports', 'engine') },
    },
    {
      name: 'ports-only-domain',
      severity: 'error',
      comment: 'src/ports may import only src/domain and src/ports.',
      from: { path: area('ports') },
      to: { path: '^src/', pathNot: area('domain', 'ports') },
    },

    // ---- adapters ----------------------------------------------------------
    {
      name: 'adapters-only-ports-domain',
      severity: 'error',
      comment:
        'src/adapters implement ports: they may import only src/ports, src/domain, src/adapters.',
      from: { path: area('adapters') },
      to: { path: '^src/', pathNot: area('ports', 'domain', 'adapters') },
    },

    // ---- delivery: http / cli / web ----------------------------------------
    {
      name: 'delivery-not-to-wiring',
      severity: 'error',
      comment:
        'src/http, src/cli and src/web receive their dependencies; they must not import src/adapters, src/config or src/main.',
      from: { path: area('http', 'cli', 'web') },
      to: { path: area('adapters', 'config', 'main') },
    },

    // ---- composition root --------------------------------------------------
    {
      name: 'config-only-from-main',
      severity: 'error',
      comment: 'src/config (the only reader of the environment) may be imported only by src/main.',
      from: { path: '^src/', pathNot: area('main', 'config') },
      to: { path: area('config') },
    },
    {
      name: 'main-is-root',
      severity: 'error',
      comment: 'src/main is the composition root: nothing else under src/ may import it.',
      from: { path: '^src/', pathNot: area('main') },
      to: { path: area('main') },
    },

    // ---- cross-cutting -----------------------------------------------------
    {
      name: 'observability-not-to-outer',
      severity: 'error',
      comment: 'src/observability must not import http, cli, adapters, main or config.',
      from: { path: area('observability') },
      to: { path: area('http', 'cli', 'adapters', 'main', 'config') },
    },
    {
      name: 'ops-not-to-outer',
      severity: 'error',
      comment: 'src/ops must not import http, cli, main or config.',
      from: { path: area('ops') },
      to: { path: area('http', 'cli', 'main', 'config') },
    },
  ],

  options: {
    doNotFollow: { path: ['node_modules'] },
    // Tests may import test tooling and anything they exercise; the rule is about shipped code.
    exclude: { path: ['^dist/', '^coverage/', '\\.test\\.ts$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
