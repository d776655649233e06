// Builds real runtimes (PGlite in a temporary directory, or a PostgreSQL database of its own) and
// the backup tools the CLI uses, and cleans everything up after the test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createBackupTools } from '../../src/main/backup-runtime.js';
import { createRuntime, type Runtime } from '../../src/main/runtime.js';
import type { BackupProgress } from '../../src/ops/backup-service.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestDatabase } from '../support/services.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

export function tempDir(prefix = 'cfn-backup-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export const KEY_A = Buffer.alloc(32, 7).toString('base64');
export const KEY_B = Buffer.alloc(32, 9).toString('hex');

export interface Env {
  [name: string]: string;
}

/** A runtime on PGlite in its own directory, or on a new PostgreSQL database. */
export async function openRuntime(
  kind: 'pglite' | 'postgres',
  env: Env = {},
): Promise<{ runtime: Runtime; env: Env }> {
  const full: Env = { CFN_DATA_DIR: tempDir('cfn-data-'), LOG_LEVEL: 'warn', ...env };
  if (kind === 'postgres' && !full.DATABASE_URL) {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    full.DATABASE_URL = db.url;
  }
  const runtime = await createRuntime(loadConfig(full), {
    withoutRedis: true,
    logDestination: captureLogs().stream,
  });
  cleanups.push(() => runtime.close());
  return { runtime, env: full };
}

export function backupTools(
  runtime: Runtime,
  env: Env,
  options: { target?: string; onProgress?: (p: BackupProgress) => void } = {},
) {
  return createBackupTools(runtime, { env, ...options });
}
