// A restore under load in the embedded profile, through the running service: `cfn start` on PGlite
// runs swarms against the fake LLM (150-900 ms answers) while a swarm is submitted every 250 ms;
// `cfn backup create` and `cfn restore --yes --keep-maintenance` go through its admin API (it
// holds the database). The restored database is compared with the backup table by table before
// anything resumes: the service is stopped (in maintenance) so its PGlite directory can be read,
// and the backup is loaded into an in-memory PGlite. Started again it stays halted (503) until
// `cfn maintenance off`; then the backup's swarms finish and nothing else of the old database
// comes back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, queryRows, type Database } from '../../src/adapters/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import type { RestoreReport } from '../../src/ops/restore-service.js';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { captureLogs } from '../support/log-capture.js';
import {
  answerSlowly,
  backupFacts,
  checkRun,
  expectSameRows,
  loadEnv,
  rowSets,
  startSubmissions,
  swarmIdsByTable,
  waitFor,
  type RunSql,
} from './load-harness.js';

const KEY = 'cfn_restore_embedded_admin_key_0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-restore-embedded-'));
let llm: FakeLlm;
let env: Record<string, string>;
let service: RunningCli | undefined;

async function startService(): Promise<string> {
  service = spawnCli(['start'], { cwd: dir, env });
  return String((await service.waitForLog((l) => l.msg === 'listening', 60_000)).url);
}

async function stopService(): Promise<void> {
  service!.child.kill('SIGTERM');
  expect((await service!.exited).code).toBe(0);
  service = undefined;
}

/** The service's PGlite directory, opened while the service is stopped. */
async function withDatabase<T>(fn: (run: RunSql) => Promise<T>): Promise<T> {
  const logger = createLogger({ level: 'warn', version: 't', destination: captureLogs().stream });
  const database: Database = await openDatabase({ dataDir: env.CFN_DATA_DIR!, logger });
  try {
    return await fn((t) => queryRows(database.db, sql.raw(t)));
  } finally {
    await database.close();
  }
}

const cli = (args: string[]) =>
  runCli(args, { env: { ...env, CFN_API_KEY: KEY, LOG_LEVEL: 'error' }, timeoutMs: 120_000 });

async function swarms(url: string, status?: string) {
  const res = await fetch(`${url}/api/swarms?limit=200${status ? `&status=${status}` : ''}`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  return ((await res.json()) as { items: Array<{ id: string; status: string }> }).items;
}

beforeAll(async () => {
  llm = await startFakeLlm();
  answerSlowly(llm);
  env = loadEnv(dir, llm, KEY);
}, 60_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) service.child.kill('SIGKILL');
  await llm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('restore under load, embedded, through the running service', () => {
  it('restores exactly the backup, stays halted across a restart, then finishes the backup’s swarms', async () => {
    let url = await startService();
    const load = startSubmissions(url, KEY);
    await waitFor(
      'a few swarms completed',
      async () => (await swarms(url, 'completed')).length >= 4,
    );

    const created = await cli(['backup', 'create', '--json']);
    expect(created.code).toBe(0);
    const manifest = JSON.parse(created.stdout) as { id: string; key: string };
    const backedUpAt = Date.now();
    await waitFor(
      'more swarms accepted after the backup',
      async () => load.accepted().filter((s) => s.t0 > backedUpAt).length >= 6,
    );

    const restored = await cli(['restore', manifest.id, '--yes', '--keep-maintenance', '--json']);
    expect(restored.code).toBe(0);
    const report = JSON.parse(restored.stdout) as RestoreReport;
    expect(report.acknowledged.map((r) => r.pid)).toEqual([service!.child.pid]);
    expect(report.maintenance).toBe('on');
    const ackAt = Date.parse(report.acknowledgedAt);
    await waitFor(
      'submissions answered during maintenance',
      async () => load.list.filter((s) => s.t0 >= ackAt).length >= 4,
    );
    await load.stop();
    await stopService();

    // Before anything resumes: the restored database is the backup, table by table.
    const dump = gunzipSync(
      fs.readFileSync(path.join(env.CFN_DATA_DIR!, 'backups', manifest.key)),
    ).toString('utf8');
    const scratch = await PGlite.create();
    await scratch.exec(dump);
    await scratch.exec('RESET ALL');
    const facts = await backupFacts(
      async (t) => (await scratch.query<Record<string, unknown>>(t)).rows,
    );
    await scratch.close();
    const { swarms: backupSwarms, unfinished } = facts;
    expectSameRows(await withDatabase(rowSets), facts.rows);
    expect(unfinished.length).toBeGreaterThan(0);

    // Started again during maintenance, it acknowledges at once and refuses submissions.
    url = await startService();
    await service!.waitForLog(
      (l) => l.msg === 'maintenance acknowledged: engine halted, writes refused',
    );
    const load2 = startSubmissions(url, KEY);
    await waitFor('submissions refused after the restart', async () => load2.list.length >= 3);
    const offStartedAt = Date.now();
    const off = await cli(['maintenance', 'off']);
    expect(off.stdout).toMatch(
      /^Maintenance off\.\nThe service is healthy: 1 replica\(s\) running/,
    );
    await waitFor(
      'swarms accepted after resuming',
      async () => load2.accepted().filter((s) => s.t0 > offStartedAt).length >= 3,
    );
    await load2.stop();

    await waitFor(
      'every swarm finished',
      async () => {
        const all = await swarms(url);
        return all.every((s) => /^(completed|aborted|exhausted|failed|cancelled)$/.test(s.status));
      },
      120_000,
    );
    for (const id of unfinished) {
      const res = await fetch(`${url}/api/swarms/${id}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(((await res.json()) as { status: string }).status).toBe('completed');
    }
    await stopService();
    checkRun({
      submissions: [...load.list, ...load2.list],
      backupSwarms,
      report,
      offStartedAt,
      finalIds: await withDatabase(swarmIdsByTable),
    });
  }, 300_000);
});
