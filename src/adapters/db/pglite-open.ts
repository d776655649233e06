// Opening the embedded database: the data-directory lock, then PGlite on its worker thread. Light
// on imports, so that `cfn start` can begin it before the rest of the service has loaded.
//
// A new data directory is initialised (initdb, in WebAssembly) by a child process into a
// temporary directory that is renamed into place: initdb's memory (some 600 MiB at its peak)
// leaves with that process instead of staying in the service's, and an initdb cut short (the
// service killed) leaves only a temporary directory, removed at the next start.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { lockDataDir } from './pglite-lock.js';
import {
  DEFAULT_PGLITE_SETTINGS,
  pgliteSettingParams,
  type PgliteSettings,
} from './pglite-settings.js';
import { PgliteWorkerClient, type PgliteWorkerOptions } from './pglite-worker-client.js';

export interface PgliteOpening {
  /** The data directory as configured (`memory://` for an in-memory database). */
  readonly dataDir: string;
  /** Rejects with DATA_DIR_LOCKED, or with why PGlite did not open (the lock is then released). */
  readonly client: Promise<PgliteWorkerClient>;
  /** Releases the data-directory lock, once the client has closed. */
  release(): void;
}

export type PgliteOpenOptions = Pick<
  PgliteWorkerOptions,
  'logger' | 'closeTimeoutMs' | 'resourceLimits'
> & {
  dataDir: string;
  settings?: PgliteSettings | undefined;
};

const INIT_PREFIX = 'pglite.init-';
const run = promisify(execFile);

// The CommonJS build of PGlite, by absolute path: the child resolves nothing of its own, and
// runs the same whether this module is compiled or run from the sources.
const PGLITE_CJS = createRequire(import.meta.url).resolve('@electric-sql/pglite');
const INITDB = `
const [dir, params] = process.argv.slice(1);
const { PGlite } = require(${JSON.stringify(PGLITE_CJS)});
PGlite.create(dir, { startParams: [...PGlite.defaultStartParams, ...JSON.parse(params)] })
  .then((pg) => pg.close())
  .catch((err) => { console.error(err && err.stack || String(err)); process.exit(1); });
`;

/** Initialises `<dataDir>/pglite` unless it exists: in a child process, then renamed into place. */
async function initialiseOnce(dataDir: string, settings: PgliteSettings): Promise<void> {
  const target = path.join(dataDir, 'pglite');
  if (fs.existsSync(target)) return;
  for (const name of fs.readdirSync(dataDir)) {
    if (name.startsWith(INIT_PREFIX))
      fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
  }
  const scratch = path.join(dataDir, `${INIT_PREFIX}${process.pid}`);
  try {
    await run(
      process.execPath,
      ['-e', INITDB, scratch, JSON.stringify(pgliteSettingParams(settings))],
      {
        env: {},
        maxBuffer: 1024 * 1024,
      },
    );
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(
      `Could not initialise the embedded database in ${target}: ${stderr.split('\n').slice(-3).join(' ') || (err as Error).message}`,
      { cause: err },
    );
  }
  fs.renameSync(scratch, target);
}

export function startOpeningPglite(options: PgliteOpenOptions): PgliteOpening {
  let release = () => {};
  const client = (async () => {
    const inMemory = options.dataDir.startsWith('memory://');
    if (!inMemory) {
      fs.mkdirSync(options.dataDir, { recursive: true });
      const lock = lockDataDir(path.join(options.dataDir, 'pglite.lock'), options.dataDir);
      release = () => lock.release();
    }
    try {
      if (!inMemory)
        await initialiseOnce(options.dataDir, options.settings ?? DEFAULT_PGLITE_SETTINGS);
      const { settings, ...rest } = options;
      return await PgliteWorkerClient.start({
        ...rest,
        ...(settings ? { settings } : {}),
        dataDir: inMemory ? null : path.join(options.dataDir, 'pglite'),
      });
    } catch (err) {
      release();
      throw err;
    }
  })();
  // Whoever takes the opening awaits it and reports the failure; until then it is not unhandled.
  client.catch(() => {});
  return { dataDir: options.dataDir, client, release: () => release() };
}
