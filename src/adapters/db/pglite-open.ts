// Opening the embedded database: the data-directory lock, then PGlite on its worker thread. Light
// on imports, so that `cfn start` can begin it before the rest of the service has loaded.
import fs from 'node:fs';
import path from 'node:path';
import { lockDataDir } from './pglite-lock.js';
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
};

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
      return await PgliteWorkerClient.start({
        ...options,
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
