#!/usr/bin/env node
// The `cfn` executable. For `cfn start` on the embedded database it first begins opening PGlite on
// its worker thread, which then opens on another core while the rest of the service loads (about
// a second of module loading); then it runs the commands (cli.ts).
import { startOpeningPglite, type PgliteOpening } from '../adapters/db/pglite-open.js';
import { loadConfig, processEnv, type Config } from '../config/load-config.js';
import type { EarlyStart } from './cli.js';

function prepare(): EarlyStart {
  if (process.argv.length !== 3 || process.argv[2] !== 'start') return {};
  let config: Config;
  try {
    config = loadConfig(processEnv());
  } catch {
    return {}; // the command reports it
  }
  if (config.database.url) return { config };
  const pgliteOpening: PgliteOpening = startOpeningPglite({
    dataDir: config.dataDir,
    settings: config.database.pglite,
  });
  return { config, pgliteOpening };
}

const prepared = prepare();
const { runCli } = await import('./cli.js');
await runCli(prepared);
